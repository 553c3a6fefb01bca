package main

import (
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"tenant-service/genesys/genesystest"
)

// readmeTour returns the shell block of the README's tour.
func readmeTour(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(raw), "## A tour with curl")
	if !ok {
		t.Fatal("the README has no tour")
	}
	_, rest, ok = strings.Cut(rest, "```sh\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("the tour has no sh block")
	}
	return block
}

// The README's tour runs as written, copy-paste, against a started service
// (development keys, as `make run` makes them): every request must answer
// 2xx, and the values it extracts must lead to the next step. Only the
// address changes. The Genesys token step gets a fake Genesys login that
// knows the tour's client.
func TestReadmeTourRuns(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the tour needs %s (apt-get install -y %s)", tool, tool)
		}
	}
	tour := readmeTour(t)
	login := genesystest.NewServer(t, genesystest.Config{})
	creds := regexp.MustCompile(`"clientId":"([^"]+)","clientSecret":"([^"]+)"`).FindStringSubmatch(tour)
	if creds == nil {
		t.Fatal("the tour sets no Genesys credentials")
	}
	login.AddClient(creds[1], creds[2])

	dir := t.TempDir()
	env := testEnv(t)
	delete(env, "API_KEYS") // the development admin key, as make run makes it
	env["DEV_STATE_DIR"] = filepath.Join(dir, ".dev-keys")
	env["GENESYS_LOGIN_URL"] = login.URL
	a := startApp(t, env)
	// Through a proxy that checks each exchange against the OpenAPI document.
	u, _ := url.Parse(a.validatingProxy())

	script := "set -euo pipefail\n" +
		// Every request must succeed; show the failing one.
		`curl() { command curl --fail-with-body --max-time 20 "$@" || { echo "tour step failed: curl $*" >&2; return 1; }; }` + "\n" +
		strings.ReplaceAll(tour, "localhost:3007", u.Host)
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README tour does not run against the service: %v\n%s", err, out)
	}
	for _, want := range []string{`"status":"suspended"`, `"clientSecret":"****`, `"accessToken":"EAA`, `"status":"deleted"`,
		"Location: /api/tenants/", `Etag: "1"`} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("the tour's output lacks %s:\n%s", want, out)
		}
	}
}
