package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tenant-service/metagraph/graphtest"
)

// consoleTestDir holds the console's browser test (playwright-core driving
// Debian's Chromium, and axe-core).
const consoleTestDir = "../../console/browsertest"

// The admin console works end to end in a real browser against the whole
// service: an admin creates (after a field error), edits (and meets a
// conflict), suspends, links a number, watches history arrive live, opens
// an older version, verifies history, runs Embedded Signup against the Graph
// fake with a stubbed Meta SDK, and deletes; an auditor sees no write
// control; a service key is refused; axe-core finds no serious or critical
// violation on any page. With CONSOLE_SCREENSHOTS=<dir> it also saves the
// README's screenshots there (make console-screenshots).
func TestConsoleInBrowser(t *testing.T) {
	t.Parallel()
	node := nodeWith(t, "the console's browser test", consoleTestDir, "playwright-core", "axe-core")
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("the console's browser test needs Chromium at %s: apt-get install -y chromium (or set CHROMIUM)", chromium)
	}
	fake := graphtest.NewServer(t, graphtest.Config{})
	fake.Onboard("es-browser-code", "EAAbrowser-signup-token-5555", "880001",
		graphtest.PhoneNumber{ID: "880002", DisplayPhoneNumber: "+1 555 0188", VerifiedName: "Browser Co"})
	env := testEnv(t)
	env["META_APP_ID"], env["META_APP_SECRET"], env["META_GRAPH_URL"] = fake.AppID(), fake.AppSecret(), fake.URL
	env["META_SIGNUP_CONFIG_ID"] = "424242"
	a := startApp(t, env)

	artifacts := os.Getenv("CONSOLE_ARTIFACTS")
	if artifacts == "" {
		artifacts = t.TempDir()
	}
	screenshots := os.Getenv("CONSOLE_SCREENSHOTS")
	if screenshots != "" {
		var err error
		if screenshots, err = filepath.Abs(screenshots); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "console.test.mjs")
	cmd.Dir = consoleTestDir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "BASE_URL=" + a.srv.URL,
		"ADMIN_KEY=" + adminKey, "AUDITOR_KEY=" + auditorKey, "SERVICE_KEY=" + serviceKey,
		"ES_CODE=es-browser-code", "ES_WABA=880001", "ES_PHONE=880002", "ES_DISPLAY=+1 555 0188",
		"ARTIFACTS=" + artifacts, "SCREENSHOTS=" + screenshots, "CHROMIUM=" + chromium}
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node console.test.mjs: %v after %s (a failing step's screenshot is in %s)\n%s", err, time.Since(start).Round(time.Millisecond), artifacts, out)
	}
	last := strings.TrimSpace(string(out))
	if i := strings.LastIndex(last, "\n"); i >= 0 {
		last = last[i+1:]
	}
	if !strings.HasPrefix(last, "ok ") {
		t.Fatalf("node console.test.mjs did not finish: %s", out)
	}
	t.Logf("console in the browser: %s", last)
}
