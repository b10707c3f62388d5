package keys

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadMasterKeyEnv(t *testing.T) {
	raw := make([]byte, 32)
	for i := range raw {
		raw[i] = byte(i + 1)
	}
	env := base64.StdEncoding.EncodeToString(raw)
	// The file path is ignored when the value is set.
	missing := filepath.Join(t.TempDir(), "never", "created")
	m, created, err := LoadMasterKey(" "+env+"\n", missing)
	if err != nil || created || m.IsZero() {
		t.Fatalf("LoadMasterKey(env) = %v, %v, %v", m, created, err)
	}
	if string(m.key[:]) != string(raw) {
		t.Fatal("LoadMasterKey(env) decoded the wrong key")
	}
	if _, err := os.Stat(filepath.Dir(missing)); !os.IsNotExist(err) {
		t.Errorf("LoadMasterKey(env) touched the file path: %v", err)
	}

	for name, v := range map[string]string{
		"short":       base64.StdEncoding.EncodeToString(raw[:31]),
		"long":        base64.StdEncoding.EncodeToString(append(raw, 0)),
		"base64url":   base64.RawURLEncoding.EncodeToString(raw),
		"not base64":  "this is not base64 at all, but it is secret-ish",
		"hex":         fmt.Sprintf("%x", raw),
		"space-only":  "   ",
		"with prefix": "base64:" + env,
	} {
		_, _, err := LoadMasterKey(v, missing)
		if name == "space-only" {
			// Blank is "set" but invalid: it must not fall back silently.
			if err == nil {
				t.Errorf("LoadMasterKey(%s) succeeded", name)
			}
			continue
		}
		if err == nil {
			t.Errorf("LoadMasterKey(%s) succeeded", name)
			continue
		}
		if strings.Contains(err.Error(), strings.TrimSpace(v)) {
			t.Errorf("LoadMasterKey(%s) error repeats the value: %v", name, err)
		}
	}
}

func TestLoadMasterKeyFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "secrets")
	path := filepath.Join(dir, "master.key")

	m1, created, err := LoadMasterKey("", path)
	if err != nil || !created || m1.IsZero() {
		t.Fatalf("first LoadMasterKey = %v, %v, %v; want a created key", m1, created, err)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, dir: 0o700} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s has mode %04o, want %04o", p, got, want)
		}
	}

	m2, created, err := LoadMasterKey("", path)
	if err != nil || created {
		t.Fatalf("second LoadMasterKey = %v, %v", created, err)
	}
	if m1 != m2 {
		t.Fatal("second LoadMasterKey returned a different key")
	}

	// The file holds the same text the environment form takes.
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m3, _, err := LoadMasterKey(string(text), "")
	if err != nil || m3 != m1 {
		t.Fatalf("file text as env value: %v, equal=%v", err, m3 == m1)
	}

	// Fail closed on a broad mode, naming the file.
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644, 0o660} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, _, err := LoadMasterKey("", path)
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("mode %04o: LoadMasterKey = %v, want an error naming %s", mode, err, path)
		}
	}
	if err := os.Chmod(path, 0o400); err != nil {
		t.Fatal(err)
	}
	if m, _, err := LoadMasterKey("", path); err != nil || m != m1 {
		t.Errorf("mode 0400: LoadMasterKey = %v", err)
	}
}

func TestLoadMasterKeyBadFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for name, p := range map[string]string{
		"garbage":   write("garbage", "not a key\n"),
		"empty":     write("empty", ""),
		"short":     write("short", base64.StdEncoding.EncodeToString(make([]byte, 16))),
		"huge":      write("huge", strings.Repeat("A", 4096)),
		"directory": dir,
	} {
		m, created, err := LoadMasterKey("", p)
		if err == nil || created || !m.IsZero() {
			t.Errorf("LoadMasterKey(%s) = %v, %v, %v; want error", name, m, created, err)
		}
	}
	if _, _, err := LoadMasterKey("", ""); err == nil {
		t.Error("LoadMasterKey with nothing set succeeded")
	}
}

func TestMasterKeyRedacted(t *testing.T) {
	m, _, err := LoadMasterKey("", filepath.Join(t.TempDir(), "k"))
	if err != nil {
		t.Fatal(err)
	}
	forms := []string{
		base64.StdEncoding.EncodeToString(m.key[:]),
		fmt.Sprintf("%x", m.key[:]),
		fmt.Sprint(m.key[:]),
		fmt.Sprint(m.key),
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%d"} {
		for _, v := range []any{m, &m, struct{ M MasterKey }{m}} {
			out := fmt.Sprintf(verb, v)
			for _, f := range forms {
				if strings.Contains(out, f) {
					t.Errorf("%s prints key material: %q", verb, out)
				}
			}
		}
	}
	if got := m.String(); got != "keys.MasterKey(redacted)" {
		t.Errorf("String() = %q", got)
	}
	if _, err := json.Marshal(m); err == nil {
		t.Error("json.Marshal(MasterKey) succeeded")
	}
}
