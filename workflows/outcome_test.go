package workflows

import (
	"context"
	"reflect"
	"testing"
)

// The run step's outcome reaches the job's result whichever step stored
// the artifact, so the Temporal Web UI shows it.
func TestExecuteTaskResultCarriesTheOutcome(t *testing.T) {
	exit := 3
	want := &Outcome{ExitCode: &exit}
	for name, stored := range map[string]string{"stored by the run step": "01STORED", "stored by the persist step": ""} {
		t.Run(name, func(t *testing.T) {
			s := okSteps()
			s.run = func(context.Context, RunInput) (RunOutput, error) {
				out := RunOutput{ArtifactID: stored, Outcome: want}
				if stored == "" {
					out.Data = []byte(`{"exit_code":3}`)
				}
				return out, nil
			}
			env := newEnv(t, s)
			env.ExecuteWorkflow(ExecuteTaskWorkflow, ExecuteInput{TaskID: task.ID})
			var res ExecuteResult
			if err := env.GetWorkflowResult(&res); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(res.Outcome, want) {
				t.Errorf("outcome = %+v, want %+v", res.Outcome, want)
			}
		})
	}
}
