package chaptask

import (
	"io"
	"testing"
	"time"
)

func TestConsoleURL(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "http://127.0.0.1:8000"},
		{map[string]string{"CHAPTASK_HTTP_ADDR": "localhost:9000"}, "http://localhost:9000"},
		{map[string]string{"CHAPTASK_HTTP_ADDR": ":8000"}, ""},
		{map[string]string{"CHAPTASK_HTTP_ADDR": "0.0.0.0:8000"}, ""},
		{map[string]string{"CHAPTASK_HTTP_ADDR": "127.0.0.1:0"}, ""},
		{map[string]string{"CHAPTASK_HTTP_ADDR": ":8000", "CHAPTASK_CONSOLE_URL": "https://jobs.example.com/"}, "https://jobs.example.com"},
	}
	for _, tt := range tests {
		cfg, err := parseConfig(nil, func(k string) string { return tt.env[k] }, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.consoleURL(); got != tt.want {
			t.Errorf("%v: consoleURL() = %q, want %q", tt.env, got, tt.want)
		}
	}
}

func TestAddressesPeopleOpenMustBeURLs(t *testing.T) {
	for _, name := range []string{"CHAPTASK_CONSOLE_URL", "CHAPTASK_TEMPORAL_UI_URL"} {
		for _, bad := range []string{"example.com", "ftp://example.com", "http://"} {
			env := map[string]string{name: bad}
			if _, err := parseConfig(nil, func(k string) string { return env[k] }, io.Discard); err == nil {
				t.Errorf("%s=%q: no error", name, bad)
			}
		}
	}
}

func TestLocalRunMax(t *testing.T) {
	for value, want := range map[string]time.Duration{"": time.Second, "0": 0, "250ms": 250 * time.Millisecond, "5s": 5 * time.Second} {
		env := map[string]string{"CHAPTASK_LOCAL_RUN_MAX": value}
		cfg, err := parseConfig(nil, func(k string) string { return env[k] }, io.Discard)
		if err != nil || cfg.LocalRunMax != want {
			t.Errorf("CHAPTASK_LOCAL_RUN_MAX=%q: %v, %v; want %v", value, cfg.LocalRunMax, err, want)
		}
	}
	for _, bad := range []string{"-1s", "6s", "fast", "1"} {
		env := map[string]string{"CHAPTASK_LOCAL_RUN_MAX": bad}
		if _, err := parseConfig(nil, func(k string) string { return env[k] }, io.Discard); err == nil {
			t.Errorf("CHAPTASK_LOCAL_RUN_MAX=%q: no error", bad)
		}
	}
}
