package verifier_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/medid/medid/credentials/jwtvc"
	"github.com/medid/medid/verifier"
)

// FuzzVerifyPresentation runs the whole verifier on mutated wallet input,
// seeded with real presentations of every format: it must never panic,
// and every failure is either a *VerificationError or an input error.
func FuzzVerifyPresentation(f *testing.F) {
	w := newWorld(f)
	sd, _ := w.issueSD(sdOpts{})
	jwt, _ := w.issueJWT(jwtOpts{format: jwtvc.JWTVCJSON})
	for _, s := range []json.RawMessage{
		jsonString(w.present(sd, nonce, audience, []any{"given_name"}, []any{"identifiers", 0})),
		jsonString(w.jwtVP([]any{jwt}, vpOpts{})),
		envelope("EnvelopedVerifiablePresentation", "dc+sd-jwt", w.present(sd, nonce, audience)),
		json.RawMessage(`{"type":["VerifiablePresentation"],"holder":"did:web:x.example","proof":{}}`),
	} {
		f.Add([]byte(s), "")
	}
	f.Fuzz(func(t *testing.T, raw []byte, format string) {
		vp, err := w.v.VerifyPresentation(ctx, format, raw, nonce, audience)
		if err == nil {
			if vp == nil || len(vp.Checks()) == 0 {
				t.Fatal("success without checks")
			}
			return
		}
		var ve *verifier.VerificationError
		if !errors.As(err, &ve) && !verifier.IsInputError(err) {
			t.Fatalf("unexpected error %T: %v", err, err)
		}
		if ve != nil && len(ve.FailedNames()) == 0 {
			t.Fatalf("a verification error with no failed check: %v", ve.Checks)
		}
	})
}

// FuzzVerifyCredential is FuzzVerifyPresentation for credentials.
func FuzzVerifyCredential(f *testing.F) {
	w := newWorld(f)
	sd, _ := w.issueSD(sdOpts{})
	j11, _ := w.issueJWT(jwtOpts{format: jwtvc.JWTVCJSON})
	j20, _ := w.issueJWT(jwtOpts{format: jwtvc.VCJWT})
	for _, s := range []json.RawMessage{jsonString(sd), jsonString(j11), envelope("EnvelopedVerifiableCredential", "vc+jwt", j20)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, err := w.v.VerifyCredential(ctx, raw)
		var ve *verifier.VerificationError
		if err != nil && !errors.As(err, &ve) && !verifier.IsInputError(err) {
			t.Fatalf("unexpected error %T: %v", err, err)
		}
	})
}
