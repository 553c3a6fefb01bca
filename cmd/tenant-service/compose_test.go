package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The compose file keeps the development keys on a volume (a rebuilt
// container kept PostgreSQL's ciphertext but lost the key that opens it),
// publishes only the service's port, and the Docker build context leaves
// out local state.
func TestComposeKeepsDevelopmentKeysOnAVolume(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Ports       []string          `yaml:"ports"`
			Volumes     []string          `yaml:"volumes"`
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
		Volumes map[string]any `yaml:"volumes"`
	}
	if err := yaml.Unmarshal(raw, &compose); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	svc, ok := compose.Services["tenant-service"]
	if !ok {
		t.Fatal("no tenant-service in docker-compose.yml")
	}
	dir := svc.Environment["DEV_STATE_DIR"]
	kept := false
	for _, v := range svc.Volumes {
		name, path, _ := strings.Cut(v, ":")
		if path == dir {
			_, declared := compose.Volumes[name]
			kept = declared
		}
	}
	if dir == "" || !kept {
		t.Fatalf("DEV_STATE_DIR %q is not on a named volume: %v", dir, svc.Volumes)
	}
	for name, s := range compose.Services {
		if name != "tenant-service" && len(s.Ports) > 0 {
			t.Fatalf("%s publishes host ports %v by default", name, s.Ports)
		}
	}
	ignore, err := os.ReadFile("../../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".git", ".dev-keys", ".env", "bin"} {
		if !strings.Contains("\n"+string(ignore)+"\n", "\n"+want+"\n") {
			t.Fatalf(".dockerignore does not leave out %s", want)
		}
	}
}

// The Docker build downloads the modules with only what the Dockerfile
// copied before `go mod download`: a replace of a module in the checkout
// (the client, ./client) needs that module's go.mod copied first. The
// download runs offline from this machine's module cache.
func TestDockerfileDownloadsModulesWithWhatItCopied(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	downloads := false
	for line := range strings.Lines(string(raw)) {
		f := strings.Fields(line)
		if len(f) >= 4 && f[0] == "RUN" && strings.Join(f[1:4], " ") == "go mod download" {
			downloads = true
			break
		}
		if len(f) < 3 || f[0] != "COPY" || strings.HasPrefix(f[1], "--") {
			continue
		}
		dest := filepath.Join(dir, f[len(f)-1])
		for _, src := range f[1 : len(f)-1] {
			b, err := os.ReadFile(filepath.Join("../..", src))
			if err != nil {
				t.Fatalf("Dockerfile copies %s before go mod download: %v", src, err)
			}
			to := dest
			if strings.HasSuffix(f[len(f)-1], "/") {
				to = filepath.Join(dest, filepath.Base(src))
			}
			if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(to, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !downloads {
		t.Fatal("the Dockerfile has no RUN go mod download")
	}
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "mod", "download")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go mod download with what the Dockerfile copied: %v\n%s", err, out)
	}
}
