package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/medid/medid/internal/app"
	"github.com/medid/medid/internal/config"
)

// TestVerifierInfoAttestation: an authority issues an OrganizationCredential
// about a clinic's verifier DID; the clinic serves with --verifier-info, its
// signed OpenID4VP request objects carry the attestation, and a patient's
// wallet previewing the request shows it before anything is sent.
func TestVerifierInfoAttestation(t *testing.T) {
	authority := startServer(t, tempData(t), nil)

	// The clinic's DID exists from its first start.
	clinicData := tempData(t)
	clinic := startServer(t, clinicData, nil)
	clinicDID := clinic.App.ServerDID
	clinic.Stop(t)

	var subject map[string]any
	if err := json.Unmarshal([]byte(typeClaims()["OrganizationCredential"]), &subject); err != nil {
		t.Fatal(err)
	}
	subject["id"] = clinicDID
	vc := map[string]any{"@context": []any{"https://www.w3.org/ns/credentials/v2"},
		"type": []any{"VerifiableCredential", "OrganizationCredential"}, "credentialSubject": subject}
	code, out := postJSON(t, authority.URL+"/credentials/issue", authority.Admin,
		map[string]any{"credential": vc, "options": map[string]any{"format": "jwt_vc_json"}})
	if code != http.StatusCreated {
		t.Fatalf("issue the attestation: %d %v", code, out)
	}
	attestation, _ := out["verifiableCredential"].(string)
	if attestation == "" {
		t.Fatalf("attestation is not a JWT: %v", out)
	}

	file := filepath.Join(t.TempDir(), "verifier-info.json")
	b, _ := json.Marshal([]map[string]any{{"format": "jwt_vc_json", "data": attestation}})
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	clinic = startServerConfig(t, &config.Config{DataDir: clinicData, LogLevel: "warn", VerifierInfo: file}, app.Options{})
	if clinic.App.ServerDID != clinicDID {
		t.Fatalf("the clinic's DID changed across restarts: %s, then %s", clinicDID, clinic.App.ServerDID)
	}

	code, sess := postJSON(t, clinic.URL+"/verifier/sessions", clinic.Admin,
		map[string]any{"template": "patient-identity", "purpose": "Check in at the clinic"})
	if code != http.StatusCreated {
		t.Fatalf("session: %d %v", code, sess)
	}
	link := sess["authorization_request"].(string)
	_, req := walletRequest(t, clinic, link)
	infos, _ := req["verifier_info"].([]any)
	if len(infos) != 1 {
		t.Fatalf("request object verifier_info: %v", req["verifier_info"])
	}
	if vi, _ := infos[0].(map[string]any); vi["format"] != "jwt_vc_json" || vi["data"] != attestation {
		t.Fatalf("verifier_info entry %v", infos[0])
	}

	// The wallet shows it in the preview.
	code, prev := walletCall(t, "POST", clinic.URL+"/wallet/presentations/preview", walletAccount(t, clinic, "vera"), map[string]any{"request": link})
	wantStatus(t, "preview", code, prev, http.StatusOK)
	shown, _ := prev["verifier_info"].([]any)
	if len(shown) != 1 {
		t.Fatalf("preview verifier_info: %v", prev["verifier_info"])
	}
	if vi, _ := shown[0].(map[string]any); vi["data"] != attestation {
		t.Fatalf("preview verifier_info entry %v", shown[0])
	}
}
