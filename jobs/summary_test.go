package jobs

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSummary(t *testing.T) {
	long := strings.Repeat("é", 300)
	tests := []struct{ taskType, command, want string }{
		{"shell", "echo hi", "shell: echo hi"},
		{"go", "calculate_sum", "go: calculate_sum"},
		{"python", "calculate_sum", "go: calculate_sum"},
		{"shell", "set -e\nmake test", "shell: set -e …"},
	}
	for _, tt := range tests {
		if got := Summary(tt.taskType, tt.command); got != tt.want {
			t.Errorf("Summary(%q, %q) = %q, want %q", tt.taskType, tt.command, got, tt.want)
		}
	}
	got := Summary("shell", long)
	if n := utf8.RuneCountInString(got); n > maxSummaryLen || !utf8.ValidString(got) {
		t.Errorf("a long command's summary has %d runes (valid UTF-8: %v), want at most %d", n, utf8.ValidString(got), maxSummaryLen)
	}
}

func TestDetailsLinkToTheConsole(t *testing.T) {
	s := &Service{}
	if d := s.details("01TASK", "jobs/01JOB"); strings.Contains(d, "http") {
		t.Errorf("without a console address: %q, want no link", d)
	}
	s.LinkConsole("http://127.0.0.1:8000/")
	if d := s.details("01TASK", "jobs/01JOB"); !strings.Contains(d, "(http://127.0.0.1:8000/#/jobs/01JOB)") {
		t.Errorf("details = %q, want a link to the job's page", d)
	}
}
