package deploy

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/chaptask/chaptask/workflows"
)

// loadCompose loads ../docker-compose.yml the way `docker compose` does:
// schema validation, interpolation (with an empty environment, so the host's
// variables cannot mask a mistake), merge keys, normalisation and path
// resolution.
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	project, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(root, "docker-compose.yml")}},
		Environment: types.Mapping{},
	})
	if err != nil {
		t.Fatalf("load docker-compose.yml: %v", err)
	}
	return project
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, ok := p.Services[name]
	if !ok {
		t.Fatalf("service %q missing; have %v", name, p.ServiceNames())
	}
	return s
}

func env(s types.ServiceConfig, name string) string {
	if v := s.Environment[name]; v != nil {
		return *v
	}
	return ""
}

func TestComposeServices(t *testing.T) {
	p := loadCompose(t)
	want := []string{"postgres", "temporal-schema", "temporal-visibility-tuning", "temporal", "temporal-namespace", "temporal-ui", "admin-tools", "api", "worker"}
	got := p.ServiceNames()
	for _, name := range want {
		if !slices.Contains(got, name) {
			t.Errorf("service %q missing", name)
		}
	}
	for _, name := range got {
		if !slices.Contains(want, name) {
			t.Errorf("unexpected service %q: add it to this test with its checks", name)
		}
	}
}

// TestComposeImagesPinned: every pulled image names an exact tag, so a
// `docker compose up` next year starts the same stack.
func TestComposeImagesPinned(t *testing.T) {
	p := loadCompose(t)
	for name, s := range p.Services {
		t.Run(name, func(t *testing.T) {
			if s.Build != nil {
				if s.Build.Context != p.WorkingDir {
					t.Errorf("builds from %q, want the repository root", s.Build.Context)
				}
				return
			}
			if err := pinned(s.Image); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestComposePorts(t *testing.T) {
	p := loadCompose(t)
	for _, tc := range []struct {
		service          string
		published        string
		target           uint32
		targetFromEnvVar string // the address the service listens on, if set through env
	}{
		{"api", "8000", 8000, "CHAPTASK_HTTP_ADDR"},
		{"temporal-ui", "8080", 8080, ""},
		{"temporal", "7233", 7233, ""},
	} {
		t.Run(tc.service, func(t *testing.T) {
			s := service(t, p, tc.service)
			i := slices.IndexFunc(s.Ports, func(pc types.ServicePortConfig) bool { return pc.Target == tc.target })
			if i < 0 {
				t.Fatalf("container port %d not published; ports %+v", tc.target, s.Ports)
			}
			if got := s.Ports[i].Published; got != tc.published {
				t.Errorf("container port %d published on %q, want %q", tc.target, got, tc.published)
			}
			if tc.targetFromEnvVar != "" {
				// Inside a container the API must listen on all interfaces,
				// on the port that is published.
				if got, want := env(s, tc.targetFromEnvVar), "0.0.0.0:8000"; got != want {
					t.Errorf("%s = %q, want %q", tc.targetFromEnvVar, got, want)
				}
			}
		})
	}
	// A published port would stop `--scale worker=N` at the second replica.
	if ports := service(t, p, "worker").Ports; len(ports) > 0 {
		t.Errorf("worker publishes ports %+v; it must not, so that it scales", ports)
	}
}

func TestComposeChaptaskEnvironment(t *testing.T) {
	p := loadCompose(t)
	for _, tc := range []struct{ service, role string }{{"api", "api"}, {"worker", "worker"}} {
		t.Run(tc.service, func(t *testing.T) {
			s := service(t, p, tc.service)
			if got := env(s, "CHAPTASK_ROLE"); got != tc.role {
				t.Errorf("CHAPTASK_ROLE = %q, want %q", got, tc.role)
			}
			if got, want := env(s, "TEMPORAL_ADDRESS"), "temporal:7233"; got != want {
				t.Errorf("TEMPORAL_ADDRESS = %q, want %q", got, want)
			}
			u, err := url.Parse(env(s, "DATABASE_URL"))
			if err != nil {
				t.Fatalf("DATABASE_URL: %v", err)
			}
			if u.Scheme != "postgres" || u.Host != "postgres:5432" || u.Path != "/chaptask" {
				t.Errorf("DATABASE_URL = %q, want postgres://…@postgres:5432/chaptask", u.Redacted())
			}
			if u.User.Username() != "chaptask" {
				t.Errorf("DATABASE_URL user = %q, want chaptask (Temporal's role stays Temporal's)", u.User.Username())
			}
		})
	}
}

// TestComposeDatabasesCreated: the databases the services name are the ones
// the PostgreSQL init script creates.
func TestComposeDatabasesCreated(t *testing.T) {
	p := loadCompose(t)
	sql, err := os.ReadFile("postgres-init/01-databases.sql")
	if err != nil {
		t.Fatal(err)
	}
	var created []string
	for _, m := range regexp.MustCompile(`(?i)CREATE DATABASE\s+(\w+)\s+OWNER\s+(\w+)`).FindAllStringSubmatch(string(sql), -1) {
		created = append(created, m[1]+" owned by "+m[2])
	}
	apiURL, err := url.Parse(env(service(t, p, "api"), "DATABASE_URL"))
	if err != nil {
		t.Fatal(err)
	}
	temporal := service(t, p, "temporal")
	for _, want := range []string{
		strings.TrimPrefix(apiURL.Path, "/") + " owned by " + apiURL.User.Username(),
		env(temporal, "DBNAME") + " owned by " + env(temporal, "POSTGRES_USER"),
		env(temporal, "VISIBILITY_DBNAME") + " owned by " + env(temporal, "POSTGRES_USER"),
	} {
		if !slices.Contains(created, want) {
			t.Errorf("init SQL does not create database %s; it creates %v", want, created)
		}
	}
	if got, want := env(service(t, p, "temporal-schema"), "SQL_USER"), env(temporal, "POSTGRES_USER"); got != want {
		t.Errorf("temporal-schema connects as %q, the server as %q", got, want)
	}
}

func TestComposeStartOrder(t *testing.T) {
	p := loadCompose(t)
	const (
		healthy   = types.ServiceConditionHealthy
		completed = types.ServiceConditionCompletedSuccessfully
	)
	chaptask := map[string]string{"postgres": healthy, "temporal": healthy, "temporal-namespace": completed}
	for svc, want := range map[string]map[string]string{
		"temporal-schema":            {"postgres": healthy},
		"temporal-visibility-tuning": {"temporal-schema": completed},
		"temporal":                   {"postgres": healthy, "temporal-schema": completed, "temporal-visibility-tuning": completed},
		"temporal-namespace":         {"temporal": healthy},
		"temporal-ui":                {"temporal": healthy},
		"admin-tools":                {"temporal": healthy},
		"api":                        chaptask,
		"worker":                     chaptask,
	} {
		t.Run(svc, func(t *testing.T) {
			s := service(t, p, svc)
			for dep, cond := range want {
				got, ok := s.DependsOn[dep]
				if !ok {
					t.Errorf("does not depend on %s", dep)
					continue
				}
				if got.Condition != cond {
					t.Errorf("depends on %s with condition %q, want %q", dep, got.Condition, cond)
				}
			}
		})
	}
	// Waiting for a service to be healthy needs that service to have a
	// health check, or the dependant never starts.
	for name, s := range p.Services {
		for dep, d := range s.DependsOn {
			if d.Condition != healthy {
				continue
			}
			hc := p.Services[dep].HealthCheck
			if hc == nil || hc.Disable || len(hc.Test) == 0 {
				t.Errorf("%s waits for %s to be healthy, but %s has no health check", name, dep, dep)
			}
		}
	}
}

func TestComposeHealthChecks(t *testing.T) {
	p := loadCompose(t)
	for _, name := range []string{"postgres", "temporal", "api", "worker"} {
		t.Run(name, func(t *testing.T) {
			hc := service(t, p, name).HealthCheck
			if hc == nil || hc.Disable || len(hc.Test) < 2 {
				t.Fatalf("no health check: %+v", hc)
			}
			if hc.Interval == nil || hc.StartPeriod == nil {
				t.Errorf("health check without interval or start period: %+v", hc)
			}
		})
	}
	if test := service(t, p, "postgres").HealthCheck.Test; !slices.Contains(test, "pg_isready") {
		t.Errorf("postgres health check %q does not use pg_isready", test)
	}
	for _, name := range []string{"api", "worker"} {
		if test := service(t, p, name).HealthCheck.Test; !slices.Contains(test, "chaptask-healthcheck") {
			t.Errorf("%s health check %q is not the image's chaptask-healthcheck", name, test)
		}
	}
}

func TestComposeWorkerScales(t *testing.T) {
	p := loadCompose(t)
	w := service(t, p, "worker")
	replicas := 0
	if w.Deploy != nil && w.Deploy.Replicas != nil {
		replicas = *w.Deploy.Replicas
	}
	if replicas < 2 {
		t.Errorf("worker deploy.replicas = %d, want at least 2", replicas)
	}
	if w.ContainerName != "" {
		t.Errorf("worker has container_name %q; replicas need generated names", w.ContainerName)
	}
	if got := env(w, "CHAPTASK_MAX_CONCURRENCY"); got == "" {
		t.Error("worker sets no CHAPTASK_MAX_CONCURRENCY; the default (CPUs of the host) oversubscribes replicas")
	}
}

func TestComposeVolumes(t *testing.T) {
	p := loadCompose(t)
	pg := service(t, p, "postgres")
	i := slices.IndexFunc(pg.Volumes, func(v types.ServiceVolumeConfig) bool {
		return v.Target == "/var/lib/postgresql/data"
	})
	if i < 0 {
		t.Fatalf("postgres data directory is not on a volume: %+v", pg.Volumes)
	}
	if v := pg.Volumes[i]; v.Type != types.VolumeTypeVolume {
		t.Errorf("postgres data on a %s mount, want a named volume", v.Type)
	} else if _, ok := p.Volumes[v.Source]; !ok {
		t.Errorf("volume %q is not declared at the top level", v.Source)
	}
	// Bind mounts point into the repository; a renamed file would otherwise
	// surface only when a container fails to start.
	for name, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("%s mounts %s: %v", name, v.Source, err)
			}
		}
	}
}

func TestComposeAdminTools(t *testing.T) {
	p := loadCompose(t)
	s := service(t, p, "admin-tools")
	// Kept alive for `docker compose exec`.
	if !s.StdinOpen || !s.Tty {
		t.Errorf("stdin_open = %v, tty = %v; want both true", s.StdinOpen, s.Tty)
	}
	// TEMPORAL_ADDRESS is the temporal CLI's, TEMPORAL_CLI_ADDRESS tctl's.
	for _, name := range []string{"TEMPORAL_ADDRESS", "TEMPORAL_CLI_ADDRESS"} {
		if got := env(s, name); got != "temporal:7233" {
			t.Errorf("%s = %q, want temporal:7233", name, got)
		}
	}
	if !strings.Contains(s.Image, "tctl") {
		t.Errorf("image %q does not ship tctl", s.Image)
	}
}

// TestNamespaceScriptSearchAttributes: the namespace set-up registers the
// search attributes the workflows set, under the same names.
func TestNamespaceScriptSearchAttributes(t *testing.T) {
	script, err := os.ReadFile("temporal/create-namespace.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{workflows.SearchAttrTaskID, workflows.SearchAttrTaskType, workflows.SearchAttrCommand} {
		if !regexp.MustCompile(`\b` + name + `\b`).Match(script) {
			t.Errorf("create-namespace.sh does not register search attribute %s", name)
		}
	}
}

// pinned reports why an image reference is not pinned to an exact tag.
func pinned(image string) error {
	ref, _, _ := strings.Cut(image, "@")
	name := ref[strings.LastIndex(ref, "/")+1:]
	_, tag, ok := strings.Cut(name, ":")
	switch {
	case !ok || tag == "":
		return fmt.Errorf("image %q has no tag", image)
	case tag == "latest":
		return fmt.Errorf("image %q uses latest", image)
	case !regexp.MustCompile(`\d+\.\d+`).MatchString(tag):
		return fmt.Errorf("image %q: tag %q names no exact version", image, tag)
	}
	return nil
}
