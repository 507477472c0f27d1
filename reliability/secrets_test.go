package reliability

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chaptask/chaptask/db/dbtest"
	"github.com/chaptask/chaptask/internal/testclient"
)

// secretProbe is a shell task trying every way issue 17 lists to reach the
// service's secrets: its parent's environment, command line and memory,
// descriptors it might have inherited, and the data directory and keys file.
// Each attempt's error output is kept, so the artifact shows what was tried.
const secretProbe = `
echo "== environ"; tr '\0' '\n' < /proc/$PPID/environ 2>&1
for f in /proc/$PPID/task/*/environ; do tr '\0' '\n' < "$f" 2>&1; done
echo "== cmdline"; tr '\0' ' ' < /proc/$PPID/cmdline 2>&1; echo
echo "== maps and mem"
head -c 100000 /proc/$PPID/maps 2>&1 | head -n 3
grep ' rw-p ' /proc/$PPID/maps 2>/dev/null | while read range rest; do
  start=$(printf '%d' 0x${range%-*}); end=$(printf '%d' 0x${range#*-})
  n=$(((end-start)/4096)); [ "$n" -gt 16384 ] && n=16384
  timeout 10 dd if=/proc/$PPID/mem bs=4096 skip=$((start/4096)) count=$n 2>&1 | tr -c '[:print:]' '\n' | grep -E '.{12,}'
done
echo "== inherited descriptors"; ls -l /proc/self/fd 2>&1
for fd in /proc/self/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] 2>/dev/null && timeout 2 head -c 100000 "$fd" 2>&1; done
echo "== parent descriptors"; ls -l /proc/$PPID/fd 2>&1 | head -n 5
for fd in /proc/$PPID/fd/*; do [ -f "$fd" ] && timeout 5 head -c 10000000 "$fd" 2>&1 | tr -c '[:print:]' '\n' | grep -E '.{12,}'; done
echo "== data directory"; ls -la "$DATA_DIR" 2>&1
find "$DATA_DIR" -type f 2>&1 | while read f; do timeout 5 head -c 10000000 "$f" 2>&1 | tr -c '[:print:]' '\n' | grep -E '.{12,}'; done
echo "== keys file"; cat "$KEYS_FILE" 2>&1
echo "== working directory"; pwd; touch scratch && echo scratch-ok; id -u
`

// TestSecretsStayInService runs the probe on both databases, with the API
// keys from the environment and from a file. The test process is root, and
// root reads any process's memory and any file whatever its mode, so the
// service runs commands as nobody (CHAPTASK_RUN_AS): that is what this
// proves. Against a command of the service's own non-root user, the
// non-dumpable flag is what guards /proc (see the threat model in docs/operations.md).
func TestSecretsStayInService(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("CHAPTASK_RUN_AS needs a root service")
	}
	for _, dialect := range []string{"sqlite", "postgres"} {
		for _, keysFrom := range []string{"env", "file"} {
			t.Run(dialect+"/keys-from-"+keysFrom, func(t *testing.T) {
				out, secrets := secretsProbe(t, dialect, keysFrom, "nobody")
				for _, s := range secrets {
					if strings.Contains(out, s) {
						t.Errorf("the probe read %q:\n%s", s, truncate(out, 4000))
					}
				}
				// The attempts were made and refused, and the command
				// still had a working directory of its own.
				for _, want := range []string{"== environ", "Permission denied", "scratch-ok", "65534"} {
					if !strings.Contains(out, want) {
						t.Errorf("probe output lacks %q:\n%s", want, truncate(out, 4000))
					}
				}
				t.Logf("FIGURE: secret probe (%s, keys from %s, run as nobody): %d secrets looked for, none found in %d bytes of output", dialect, keysFrom, len(secrets), len(out))
			})
		}
	}
	// The control: the same probe from a root command finds the secrets,
	// so the probe itself works and it is run-as that stops it.
	t.Run("control/root-without-run-as", func(t *testing.T) {
		out, secrets := secretsProbe(t, "sqlite", "env", "")
		found := 0
		for _, s := range secrets {
			if strings.Contains(out, s) {
				found++
			}
		}
		if found != len(secrets) {
			t.Errorf("a root probe found %d of %d secrets, want all:\n%s", found, len(secrets), truncate(out, 4000))
		}
		t.Logf("FIGURE: secret probe as root without run-as: %d of %d secrets found", found, len(secrets))
	})
}

// secretsProbe runs the probe as runAs ("" for the service's own user) and
// returns its output and the secrets it must not contain.
func secretsProbe(t *testing.T, dialect, keysFrom, runAs string) (string, []string) {
	dataDir := t.TempDir()
	const key1, key2 = "probe-key-one-6c1f9e", "probe-key-two-0b7d42"
	const dbPassword = "probe-db-password-93ae"
	// A marker only the database holds: a task's command.
	const marker = "probe-db-marker-5e11c0"
	env := childEnv(dataDir)
	if runAs != "" {
		env["CHAPTASK_RUN_AS"] = runAs
	}
	env["CHAPTASK_SEED_EXAMPLES"] = "false"
	keysFile := filepath.Join(t.TempDir(), "keys")
	if keysFrom == "env" {
		env["CHAPTASK_API_KEYS"] = key1 + "," + key2
	} else {
		if err := os.WriteFile(keysFile, []byte(key1+"\n"+key2+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		env["CHAPTASK_API_KEYS_FILE"] = keysFile
	}
	secrets := []string{key1, key2, marker}
	if dialect == "postgres" {
		u, err := url.Parse(dbtest.PostgresURL(t))
		if err != nil {
			t.Fatal(err)
		}
		// The test cluster trusts local connections; the password is there
		// to be looked for.
		u.User = url.UserPassword(u.User.Username(), dbPassword)
		env["DATABASE_URL"] = u.String()
		secrets = append(secrets, dbPassword)
	}
	p := start(t, "chaptask", env)
	c := newClient(p.base)
	c.http.Transport = keyTransport{key: key2}

	c.createTask(t, map[string]any{"command": "echo " + marker, "enabled": false})
	probe := strings.ReplaceAll(strings.ReplaceAll(secretProbe, "$DATA_DIR", dataDir), "$KEYS_FILE", keysFile)
	taskID := c.createTask(t, map[string]any{"command": probe})
	jobID := c.execute(t, taskID)
	var j job
	testclient.Eventually(t, 2*time.Minute, 200*time.Millisecond, func() bool {
		c.must(t, http.StatusOK, "GET", "/api/v1/jobs/"+jobID, nil, &j)
		return j.Status == "completed" || j.Status == "failed"
	}, func() string { return "probe job is " + j.Status })
	if j.ArtifactID == nil {
		t.Fatalf("probe job %s: %s", j.Status, deref(j.Error))
	}
	var a artifact
	c.must(t, http.StatusOK, "GET", "/api/v1/artifacts/"+*j.ArtifactID, nil, &a)
	out := fmt.Sprint(a.Data["stdout"]) + fmt.Sprint(a.Data["stderr"])
	if fi, err := os.Stat(dataDir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data directory mode %v (%v), want 0700", fi.Mode().Perm(), err)
	}
	return out, secrets
}

// keyTransport sends the API key with every request.
type keyTransport struct{ key string }

func (k keyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-API-Key", k.key)
	return http.DefaultTransport.RoundTrip(r)
}
