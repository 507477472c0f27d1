package deploy

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction with its continuation lines
// joined.
type instruction struct {
	line int
	cmd  string // upper case: FROM, RUN, …
	args string
}

// stage is one FROM and the instructions after it.
type stage struct {
	from  instruction
	image string // the FROM image, without --platform
	name  string // the AS name, if any
	body  []instruction
}

// readDockerfile splits a Dockerfile into stages. It understands what this
// repository's Dockerfile uses: comments, parser directives, backslash
// continuations, FROM [--flag…] image [AS name]. No heredocs.
func readDockerfile(t *testing.T, path string) []stage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		stages  []stage
		pending strings.Builder
		start   int
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		text := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(text, "#") || (text == "" && pending.Len() == 0) {
			continue
		}
		if pending.Len() == 0 {
			start = n
		}
		if cont, ok := strings.CutSuffix(text, `\`); ok {
			pending.WriteString(cont + " ")
			continue
		}
		pending.WriteString(text)
		cmd, args, _ := strings.Cut(pending.String(), " ")
		pending.Reset()
		in := instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			st := stage{from: in}
			fields := strings.Fields(in.args)
			fields = slices.DeleteFunc(fields, func(f string) bool { return strings.HasPrefix(f, "--") })
			if len(fields) > 0 {
				st.image = fields[0]
			}
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				st.name = fields[2]
			}
			stages = append(stages, st)
			continue
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				t.Fatalf("%s:%d: %s before the first FROM", path, in.line, in.cmd)
			}
			continue
		}
		stages[len(stages)-1].body = append(stages[len(stages)-1].body, in)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if pending.Len() > 0 {
		t.Fatalf("%s: ends inside a continued line", path)
	}
	return stages
}

func (s stage) find(cmd string) []instruction {
	var out []instruction
	for _, in := range s.body {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

func TestDockerfile(t *testing.T) {
	stages := readDockerfile(t, "../Dockerfile")
	if len(stages) < 2 {
		t.Fatalf("%d stage(s), want a multi-stage build", len(stages))
	}
	final := stages[len(stages)-1]

	t.Run("stages", func(t *testing.T) {
		for _, st := range stages[:len(stages)-1] {
			if st.name == "" {
				t.Errorf("line %d: build stage without AS name", st.from.line)
			}
		}
		for _, st := range stages {
			if err := pinned(st.image); err != nil {
				t.Errorf("line %d: %v", st.from.line, err)
			}
		}
		copiesBuild := slices.ContainsFunc(final.find("COPY"), func(in instruction) bool {
			return strings.Contains(in.args, "--from="+stages[0].name+" ")
		})
		if !copiesBuild {
			t.Errorf("the final stage copies nothing from the %q stage", stages[0].name)
		}
	})

	t.Run("static binary", func(t *testing.T) {
		var built bool
		for _, st := range stages[:len(stages)-1] {
			for _, in := range st.find("RUN") {
				if strings.Contains(in.args, "go build") {
					built = true
					if !strings.Contains(in.args, "CGO_ENABLED=0") {
						t.Errorf("line %d: go build without CGO_ENABLED=0", in.line)
					}
				}
			}
		}
		if !built {
			t.Error("no build stage runs go build")
		}
	})

	t.Run("non-root", func(t *testing.T) {
		users := final.find("USER")
		if len(users) == 0 {
			t.Fatal("the final stage sets no USER: the service would run as root")
		}
		user, _, _ := strings.Cut(users[len(users)-1].args, ":")
		if user == "root" || user == "0" {
			t.Errorf("line %d: USER %s", users[len(users)-1].line, user)
		}
	})

	t.Run("health check", func(t *testing.T) {
		hcs := final.find("HEALTHCHECK")
		if len(hcs) == 0 {
			t.Fatal("the final stage has no HEALTHCHECK")
		}
		hc := hcs[len(hcs)-1]
		if strings.EqualFold(strings.TrimSpace(hc.args), "NONE") || !strings.Contains(hc.args, "CMD") {
			t.Errorf("line %d: HEALTHCHECK %s", hc.line, hc.args)
		}
	})

	t.Run("shell and entrypoint", func(t *testing.T) {
		// Shell tasks run `sh -c`: a distroless or scratch base would break them.
		if strings.HasPrefix(final.image, "scratch") || strings.Contains(final.image, "distroless") {
			t.Errorf("runtime image %s has no shell", final.image)
		}
		if len(final.find("ENTRYPOINT")) == 0 {
			t.Error("the final stage has no ENTRYPOINT")
		}
	})

	t.Run("context files", func(t *testing.T) {
		ignored := dockerignore(t)
		for _, st := range stages {
			for _, in := range st.find("COPY") {
				if strings.Contains(in.args, "--from=") {
					continue
				}
				fields := slices.DeleteFunc(strings.Fields(in.args), func(f string) bool { return strings.HasPrefix(f, "--") })
				for _, src := range fields[:len(fields)-1] {
					if src == "." {
						continue
					}
					if _, err := os.Stat(filepath.Join("..", src)); err != nil {
						t.Errorf("line %d: COPY %s: %v", in.line, src, err)
					}
					if slices.Contains(ignored, strings.Split(src, "/")[0]) {
						t.Errorf("line %d: COPY %s, but .dockerignore excludes it", in.line, src)
					}
				}
			}
		}
		for _, needed := range []string{"go.mod", "go.sum", "cmd", "deploy"} {
			if slices.Contains(ignored, needed) {
				t.Errorf(".dockerignore excludes %s, which the build needs", needed)
			}
		}
	})
}

// dockerignore returns the patterns of ../.dockerignore.
func dockerignore(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, strings.TrimPrefix(line, "/"))
		}
	}
	return out
}

// TestHealthcheckScriptExecutable: COPY keeps the file mode, and the image
// runs the script directly.
func TestHealthcheckScriptExecutable(t *testing.T) {
	fi, err := os.Stat("chaptask-healthcheck.sh")
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&0o111 == 0 {
		t.Errorf("chaptask-healthcheck.sh has mode %v; it must be executable", fi.Mode())
	}
}
