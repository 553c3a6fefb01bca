package main

import (
	"os"
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
