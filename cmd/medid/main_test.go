package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// medid runs one command in-process and returns its exit code and output.
func medid(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb, func(k string) string { return env[k] })
	return code, out.String(), errb.String()
}

// serve starts `medid serve` and returns its URL and a stop function.
func serve(t *testing.T, data string) (string, func()) {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var out, errb bytes.Buffer
	go func() {
		done <- run(ctx, []string{"serve", "--addr", addr, "--data", data, "--log-level", "error"}, &out, &errb, func(string) string { return "" })
	}()
	base := "http://" + addr
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("server not ready: %s %s", out.String(), errb.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve exited %d: %s", code, errb.String())
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	}
	t.Cleanup(stop)
	if !strings.Contains(out.String(), "admin token written to") || !strings.Contains(out.String(), "webhook secret written to") {
		t.Errorf("first start did not print the admin token and webhook secret paths: %q", out.String())
	}
	return base, stop
}

var didRe = regexp.MustCompile(`did:medid:[a-z2-7]{52}`)

func TestCLIDIDLifecycleAndWitness(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	base, stop := serve(t, data)
	for _, name := range []string{"admin-token", "webhook-secret"} {
		if fi, err := os.Stat(filepath.Join(data, name)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s file: %v %v", name, err, fi)
		}
	}
	env := map[string]string{"MEDID_SERVER": base, "MEDID_KEYS": filepath.Join(dir, "keys.json")}

	code, out, errs := medid(t, env, "did", "create", "--key-type", "EdDSA")
	if code != 0 {
		t.Fatalf("create: %d %s %s", code, out, errs)
	}
	d := didRe.FindString(out)
	if d == "" {
		t.Fatalf("no DID in %q", out)
	}
	if fi, err := os.Stat(env["MEDID_KEYS"]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", err, fi)
	}
	keysBefore, _ := os.ReadFile(env["MEDID_KEYS"])

	code, out, errs = medid(t, env, "did", "update", "--did", d)
	if code != 0 || !strings.Contains(out, "updated (version 2") {
		t.Fatalf("update: %d %s %s", code, out, errs)
	}
	keysAfter, _ := os.ReadFile(env["MEDID_KEYS"])
	if bytes.Equal(keysBefore, keysAfter) {
		t.Fatal("update did not rotate the keys on file")
	}
	code, out, errs = medid(t, env, "did", "resolve", d)
	if code != 0 {
		t.Fatalf("resolve: %d %s %s", code, out, errs)
	}
	var res struct {
		Meta struct {
			VersionID string `json:"versionId"`
		} `json:"didDocumentMetadata"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Meta.VersionID != "2" {
		t.Fatalf("resolve output: %v %s", err, out)
	}
	if code, _, _ := medid(t, env, "did", "resolve", d, "--version-id", "1"); code != 0 {
		t.Fatal("resolve --version-id 1 failed")
	}
	// Recover with the recovery key (a lost phone), then deactivate.
	if code, out, errs := medid(t, env, "did", "recover", "--did", d); code != 0 || !strings.Contains(out, "recovered") {
		t.Fatalf("recover: %d %s %s", code, out, errs)
	}
	if code, out, errs := medid(t, env, "did", "deactivate", "--did", d); code != 0 {
		t.Fatalf("deactivate: %d %s %s", code, out, errs)
	}
	if code, out, _ := medid(t, env, "did", "resolve", d); code != 1 || !strings.Contains(out, `"deactivated": true`) {
		t.Fatalf("resolve deactivated: %d %s", code, out)
	}
	if code, _, errs := medid(t, env, "did", "resolve", "did:medid:nope"); code != 1 || !strings.Contains(errs, "invalidDid") {
		t.Fatalf("resolve invalid: %d %s", code, errs)
	}
	// Usage errors exit 2.
	if code, _, _ := medid(t, env, "did", "update"); code != 2 {
		t.Fatalf("update without --did: %d", code)
	}

	// The witness: trust on first use, then incremental, then a tamper.
	time.Sleep(2100 * time.Millisecond) // a checkpoint covers everything
	state := filepath.Join(dir, "witness.json")
	code, out, errs = medid(t, env, "ledger", "verify", "--server", base, "--state", state)
	if code != 0 || !strings.Contains(out, "trusting the log key on first use") || !strings.Contains(out, "size 5") {
		t.Fatalf("verify: %d %s %s", code, out, errs)
	}
	if !strings.Contains(errs, "verified 5/5 entries") {
		t.Fatalf("no progress shown: %q", errs)
	}
	stop()
	// Rebuild the index offline: the server must be stopped.
	if code, out, errs := medid(t, nil, "ledger", "rebuild", "--data", data); code != 0 || !strings.Contains(out, "5 operations applied") {
		t.Fatalf("rebuild: %d %s %s", code, out, errs)
	}
	tamper(t, filepath.Join(data, "ledger"))
	base, _ = serve2(t, data)
	code, _, errs = medid(t, env, "ledger", "verify", "--server", base, "--state", state, "--full", "--quiet")
	if code != 1 || !strings.Contains(errs, "LEDGER VERIFICATION FAILED") || !strings.Contains(errs, "entry") {
		t.Fatalf("verify of a tampered log: %d %s", code, errs)
	}
}

// serve2 restarts a server over existing data (no admin-token message).
func serve2(t *testing.T, data string) (string, func()) {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		run(ctx, []string{"serve", "--addr", addr, "--data", data, "--log-level", "error"}, &bytes.Buffer{}, &bytes.Buffer{}, func(string) string { return "" })
		close(done)
	}()
	t.Cleanup(func() { cancel(); <-done })
	base := "http://" + addr
	for i := 0; i < 200; i++ {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return base, cancel
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("server not ready")
	return "", nil
}

func tamper(t *testing.T, ledgerDir string) {
	t.Helper()
	var target string
	_ = filepath.Walk(filepath.Join(ledgerDir, "tile", "entries"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			target = p
		}
		return nil
	})
	b, err := os.ReadFile(target)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte(`"time"`))
	b[i+10] ^= 1
	if err := os.WriteFile(target, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestUsage(t *testing.T) {
	if code, _, errs := medid(t, nil); code != 2 || !strings.Contains(errs, "usage") {
		t.Fatalf("%d %s", code, errs)
	}
	if code, _, _ := medid(t, nil, "bogus"); code != 2 {
		t.Fatal(code)
	}
	if code, _, errs := medid(t, nil, "serve", "--addr", "nope"); code != 2 || !strings.Contains(errs, "--addr") {
		t.Fatalf("%d %s", code, errs)
	}
	if code, _, _ := medid(t, nil, "load", "--url", "http://10.0.0.1/"); code != 2 {
		t.Fatal("load accepted a non-loopback target")
	}
}
