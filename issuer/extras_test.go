package issuer

import (
	"bytes"
	"encoding/json"
	"image/png"
	"io"
	"net/http"
	"testing"
)

func TestNotificationEndpoint(t *testing.T) {
	e := newEnv(t)
	o := e.offer(false, "PatientIdentityCredential_dc+sd-jwt")
	w := newWallet(e, 1)
	_, code, cfgs := w.fetchOffer(o["offer_uri"].(string))
	_, tok := w.token(code, "")
	at := tok["access_token"].(string)
	status, cred, _ := w.credential(at, cfgs[0], proofJWT(t, w.keys[0], e.url, w.nonce(), e.clock.Now(), nil))
	if status != 200 || cred["notification_id"] == nil {
		t.Fatalf("credential: %d %v", status, cred)
	}
	nid := cred["notification_id"].(string)
	send := func(token string, body map[string]any) (int, map[string]any) {
		b, _ := json.Marshal(body)
		s, out, _ := e.do("POST", "/notification", "application/json", string(b), token)
		return s, out
	}
	if s, out := send(at, map[string]any{"notification_id": nid, "event": "credential_accepted"}); s != http.StatusNoContent {
		t.Fatalf("accepted: %d %v", s, out)
	}
	if s, out := send(at, map[string]any{"notification_id": "nope", "event": "credential_accepted"}); s != 400 || out["error"] != "invalid_notification_id" {
		t.Fatalf("unknown id: %d %v", s, out)
	}
	if s, out := send(at, map[string]any{"notification_id": nid, "event": "party"}); s != 400 || out["error"] != "invalid_notification_request" {
		t.Fatalf("bad event: %d %v", s, out)
	}
	if s, out := send("", map[string]any{"notification_id": nid, "event": "credential_deleted"}); s != 401 || out["error"] != CodeInvalidToken {
		t.Fatalf("no token: %d %v", s, out)
	}
	// Another wallet's token cannot notify about this issuance.
	o2 := e.offer(false, "PatientIdentityCredential_dc+sd-jwt")
	_, code2, _ := w.fetchOffer(o2["offer_uri"].(string))
	_, tok2 := w.token(code2, "")
	if s, out := send(tok2["access_token"].(string), map[string]any{"notification_id": nid, "event": "credential_deleted"}); s != 400 || out["error"] != "invalid_notification_id" {
		t.Fatalf("foreign token: %d %v", s, out)
	}
}

func TestOfferQRCodes(t *testing.T) {
	e := newEnv(t)
	o := e.offer(false, "PatientIdentityCredential_dc+sd-jwt")
	get := func(path string) (int, string, []byte) {
		resp, err := http.Get(e.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), b
	}
	id := o["id"].(string)
	s, ct, b := get("/issuer/offers/" + id + "/qr.png")
	if s != 200 || ct != "image/png" {
		t.Fatalf("png: %d %s", s, ct)
	}
	if _, err := png.Decode(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	if s, ct, b := get("/issuer/offers/" + id + "/qr.svg"); s != 200 || ct != "image/svg+xml" || !bytes.HasPrefix(b, []byte("<svg")) {
		t.Fatalf("svg: %d %s", s, ct)
	}
	// Once redeemed, the offer and its QR codes are gone.
	w := newWallet(e, 1)
	_, code, _ := w.fetchOffer(o["offer_uri"].(string))
	w.token(code, "")
	if s, _, _ := get("/issuer/offers/" + id + "/qr.png"); s != 404 {
		t.Fatalf("QR of a redeemed offer: %d", s)
	}
}
