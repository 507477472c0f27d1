package main

import (
	"strings"
	"testing"
)

func TestParsePersistenceRequests(t *testing.T) {
	const metrics = `# HELP persistence_requests persistence_requests counter
persistence_requests{operation="GetCurrentExecution",service_name="history"} 40
persistence_requests{operation="GetCurrentExecution",service_name="frontend"} 2
persistence_requests{operation="CreateTasks",service_name="matching"} 3.5
visibility_persistence_requests{operation="RecordWorkflowExecutionClosed",service_name="history"} 7
persistence_requests_total_other 9
`
	got, err := parsePersistenceRequests(strings.NewReader(metrics))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"GetCurrentExecution": 42, "CreateTasks": 3.5, "visibility:RecordWorkflowExecutionClosed": 7}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	total, line := topOperations(map[string]float64{"GetCurrentExecution": 2}, got, 10, 2)
	if total != 5.05 || line != "GetCurrentExecution 4.0, visibility:RecordWorkflowExecutionClosed 0.7" {
		t.Errorf("topOperations = %v, %q", total, line)
	}
}
