package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadVerifierInfo(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "vi.json")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if got, err := loadVerifierInfo(""); err != nil || got != nil {
		t.Fatalf("unset: %v %v", got, err)
	}
	got, err := loadVerifierInfo(write(`[{"format":"jwt_vc_json","data":"eyJ.a.b"},{"format":"ldp_vc","data":{"type":["VerifiableCredential"]},"credential_ids":["id"]}]`))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Format != "jwt_vc_json" || string(got[0].Data) != `"eyJ.a.b"` ||
		got[1].Format != "ldp_vc" || got[1].CredentialIDs[0] != "id" || !strings.HasPrefix(string(got[1].Data), "{") {
		t.Fatalf("parsed %+v", got)
	}
	if got, err := loadVerifierInfo(write(` {"format":"dc+sd-jwt","data":"eyJ.a.b~"}`)); err != nil || len(got) != 1 {
		t.Fatalf("one object: %v %v", got, err)
	}
	for _, tc := range []struct{ body, want string }{
		{`[]`, "no attestation"},
		{`not json`, "want a JSON array"},
		{`[{"data":"x"}]`, "entry 0: format"},
		{`[{"format":"jwt_vc_json"}]`, "entry 0: data"},
		{`[{"format":"jwt_vc_json","data":""}]`, "entry 0: data"},
		{`[{"format":"jwt_vc_json","data":7}]`, "entry 0: data"},
		{`[{"format":"jwt_vc_json","data":"x"},{"format":"x","data":"y","extra":1}]`, `entry 1: unknown member "extra"`},
		{`[{"format":"jwt_vc_json","data":"x","credential_ids":[]}]`, "credential_ids"},
	} {
		_, err := loadVerifierInfo(write(tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.body, err, tc.want)
		}
	}
	if _, err := loadVerifierInfo(filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "--verifier-info") {
		t.Errorf("missing file: %v", err)
	}
}
