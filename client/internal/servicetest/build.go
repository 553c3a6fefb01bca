package servicetest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var build struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// Main runs the tests of a package that starts the service and removes the
// service binary afterwards. Use it as the package's TestMain:
//
//	func TestMain(m *testing.M) { servicetest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// binary returns the path of the tenant service binary, building it the
// first time (go build ./cmd/tenant-service in the repository root).
func binary(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		root, err := repoRoot()
		if err != nil {
			build.err = err
			return
		}
		if build.dir, build.err = os.MkdirTemp("", "tenant-service-bin-"); build.err != nil {
			return
		}
		build.bin = filepath.Join(build.dir, "tenant-service")
		cmd := exec.Command("go", "build", "-o", build.bin, "./cmd/tenant-service")
		cmd.Dir = root
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			build.err = fmt.Errorf("go build ./cmd/tenant-service in %s: %v\n%s", root, err, out.Bytes())
		}
	})
	if build.err != nil {
		t.Fatalf("build the tenant service: %v", build.err)
	}
	return build.bin
}

// repoRoot returns the directory of the tenant service module: the first
// directory above the working directory whose go.mod declares
// "module tenant-service".
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(b, []byte("module tenant-service\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no directory above the tests holds the tenant-service module")
		}
		dir = parent
	}
}
