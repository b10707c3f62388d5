package registry

import (
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"
)

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func FuzzParseSignedOp(f *testing.F) {
	f.Add("")
	f.Add("a.b.c")
	f.Add(b64(`{"alg":"ES256","typ":"did-medid-op+jws"}`) + "." + b64(`{"type":"create","document":{},"updateKey":{},"recoveryCommitment":"x"}`) + ".AAAA")
	f.Add(b64(`{"alg":"EdDSA","typ":"did-medid-op+jws"}`) + "." + b64(`{"type":"deactivate","did":"did:medid:abc","prev":"x","recoveryKey":{"kty":"OKP"}}`) + ".")
	f.Fuzz(func(t *testing.T, s string) {
		op, err := ParseSignedOp(s)
		if err != nil {
			return
		}
		// Whatever parses can be applied to no state without panicking.
		_, _, _ = Apply(nil, op, 0, time.Unix(0, 0), nil)
	})
}

func FuzzDecodeEntry(f *testing.F) {
	f.Add([]byte(`{"v":1,"type":"did-medid/op","time":"2026-01-01T00:00:00Z","op":"a.b.c"}`))
	f.Add([]byte(`{"type":"did-medid/op"}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _, _ = DecodeEntry(b)
	})
}

func FuzzNormaliseDocument(f *testing.F) {
	f.Add([]byte(`{"verificationMethod":[{"id":"#k","type":"Multikey","publicKeyMultibase":"z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"}],"authentication":["#k"]}`))
	f.Add([]byte(`{"service":[{"id":"#s","type":"X","serviceEndpoint":"https://x"}]}`))
	f.Add([]byte(`{"alsoKnownAs":["tel:1"]}`))
	d, _ := DIDFromCreate(&Operation{Type: OpCreate})
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := normaliseDocument(d, b)
		if err != nil {
			return
		}
		// Normalisation is idempotent.
		again, err := normaliseDocument(d, out)
		if err != nil {
			t.Fatalf("normalised document refused: %v\n%s", err, out)
		}
		var x, y any
		_ = json.Unmarshal(out, &x)
		_ = json.Unmarshal(again, &y)
		if string(out) != string(again) {
			t.Fatalf("not idempotent:\n%s\n%s", out, again)
		}
	})
}
