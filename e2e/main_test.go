package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The browser, shared by every test of this binary as chromedp's own tests
// share theirs: one allocator, one browser, a new tab per page (so each
// page has its own sessionStorage, as a new browser tab does).
var (
	browserCtx context.Context // a started browser; tabs derive from it
	noBrowser  string          // why there is none, if there is none
)

// requireBrowser is the environment variable that turns a missing browser
// from a skip into a failure, for CI.
const requireBrowser = "NAKACHAIN_REQUIRE_BROWSER"

// findChromium returns the path of a chromium binary: $NAKACHAIN_CHROMIUM,
// or chromium (Debian's package) on PATH or in /usr/bin.
func findChromium() (string, error) {
	if p := os.Getenv("NAKACHAIN_CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no chromium found (Debian: apt-get install -y chromium, or set NAKACHAIN_CHROMIUM)")
}

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	path, err := findChromium()
	if err != nil {
		noBrowser = err.Error()
		return m.Run()
	}
	profile, err := os.MkdirTemp("", "nakachain-e2e-profile-")
	if err != nil {
		noBrowser = err.Error()
		return m.Run()
	}
	defer os.RemoveAll(profile)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 1000),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("password-store", "basic"),
	)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	start := time.Now()
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		noBrowser = fmt.Sprintf("chromium at %s did not start: %v", path, err)
		return m.Run()
	}
	version, _ := exec.Command(path, "--version").Output()
	fmt.Printf("browser: %s (started in %v)\n", trimNL(string(version)), time.Since(start).Round(time.Millisecond))
	browserCtx = ctx
	return m.Run()
}

func trimNL(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}

// needBrowser skips the test when there is no browser, or fails it when
// NAKACHAIN_REQUIRE_BROWSER=1.
func needBrowser(t *testing.T) {
	t.Helper()
	if browserCtx != nil {
		return
	}
	if os.Getenv(requireBrowser) == "1" {
		t.Fatalf("%s=1 but there is no browser: %s", requireBrowser, noBrowser)
	}
	t.Skipf("skipping the browser tests: %s (set %s=1 to fail instead)", noBrowser, requireBrowser)
}

// screenshotDir is where each test saves the PNG of the page it ends on:
// $NAKACHAIN_SCREENSHOTS, or screenshots/ in this directory (gitignored).
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("NAKACHAIN_SCREENSHOTS")
	if dir == "" {
		dir = "screenshots"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(dir)
	return abs
}
