package registry

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/medid/medid/internal/keys"
)

// actor holds a DID controller's keys in tests.
type actor struct {
	t        testing.TB
	update   *keys.PrivateKey
	recovery *keys.PrivateKey
	vm       *keys.PrivateKey
}

func newActor(t testing.TB) *actor {
	t.Helper()
	return &actor{t: t, update: gen(t, keys.ES256), recovery: gen(t, keys.ES256), vm: gen(t, keys.EdDSA)}
}

func gen(t testing.TB, alg keys.Algorithm) *keys.PrivateKey {
	t.Helper()
	k, err := keys.Generate(alg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func jwkOf(t testing.TB, k *keys.PrivateKey) json.RawMessage {
	t.Helper()
	j, err := k.PublicJWKJSON()
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func docWith(t testing.TB, k *keys.PrivateKey) json.RawMessage {
	t.Helper()
	mk, err := k.Multikey()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{
		"verificationMethod": []any{map[string]any{"id": "#key-1", "type": "Multikey", "publicKeyMultibase": mk}},
		"assertionMethod":    []any{"#key-1"},
		"authentication":     []any{"#key-1"},
	})
	return b
}

func (a *actor) createOp() *Operation {
	return &Operation{Type: OpCreate, Document: docWith(a.t, a.vm), UpdateKey: jwkOf(a.t, a.update),
		RecoveryCommitment: a.recovery.Thumbprint(), Nonce: "n"}
}

func sign(t testing.TB, op *Operation, k *keys.PrivateKey) *SignedOp {
	t.Helper()
	s, err := SignOp(op, k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func mustApply(t *testing.T, cur *State, op *SignedOp, i uint64) *State {
	t.Helper()
	st, _, err := Apply(cur, op, i, t0.Add(time.Duration(i)*time.Second), []byte("entry"))
	if err != nil {
		t.Fatalf("apply %s: %v", op.Op.Type, err)
	}
	return st
}

func wantOpErr(t *testing.T, err error, field string, unauthorized, stale bool) {
	t.Helper()
	var oe *OpError
	if !errors.As(err, &oe) {
		t.Fatalf("want *OpError, got %v", err)
	}
	if field != "" && oe.Field != field {
		t.Fatalf("field %q, want %q (%v)", oe.Field, field, err)
	}
	if oe.Unauthorized != unauthorized || oe.Stale != stale {
		t.Fatalf("unauthorized=%v stale=%v, want %v %v (%v)", oe.Unauthorized, oe.Stale, unauthorized, stale, err)
	}
}

func TestCreateDerivesSelfCertifyingDID(t *testing.T) {
	a := newActor(t)
	op := sign(t, a.createOp(), a.update)
	st := mustApply(t, nil, op, 0)
	d, _ := DIDFromCreate(&op.Op)
	if st.DID != d.String() || !strings.HasPrefix(st.DID, "did:medid:") || len(st.DID) != len("did:medid:")+52 {
		t.Fatalf("DID %q", st.DID)
	}
	// Any change to the create operation changes the DID.
	other := a.createOp()
	other.Nonce = "m"
	d2, _ := DIDFromCreate(other)
	if d2 == d {
		t.Fatal("different create operations gave the same DID")
	}
	// Applying a second create for the same DID is refused.
	_, _, err := Apply(st, op, 1, t0, nil)
	wantOpErr(t, err, "did", false, true)
}

func TestCreateMustBeSignedByItsUpdateKey(t *testing.T) {
	a := newActor(t)
	_, _, err := Apply(nil, sign(t, a.createOp(), a.recovery), 0, t0, nil)
	wantOpErr(t, err, "", true, false)
}

func TestUpdateRules(t *testing.T) {
	a := newActor(t)
	st := mustApply(t, nil, sign(t, a.createOp(), a.update), 0)
	newVM := gen(t, keys.EdDSA)
	up := &Operation{Type: OpUpdate, DID: st.DID, Prev: st.OpHash, Document: docWith(t, newVM)}

	_, _, err := Apply(st, sign(t, up, a.recovery), 1, t0, nil)
	wantOpErr(t, err, "", true, false) // wrong key

	stale := *up
	stale.Prev = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	_, _, err = Apply(st, sign(t, &stale, a.update), 1, t0, nil)
	wantOpErr(t, err, "prev", false, true)

	st2 := mustApply(t, st, sign(t, up, a.update), 1)
	if st2.Version != 2 || st2.OpHash == st.OpHash {
		t.Fatalf("state after update: %+v", st2)
	}
	// Replaying the same signed update is refused (prev moved on).
	_, _, err = Apply(st2, sign(t, up, a.update), 2, t0, nil)
	wantOpErr(t, err, "prev", false, true)

	// Rotating the update key: the old one stops working.
	nk := gen(t, keys.ES256)
	rot := &Operation{Type: OpUpdate, DID: st.DID, Prev: st2.OpHash, Document: docWith(t, newVM), UpdateKey: jwkOf(t, nk)}
	st3 := mustApply(t, st2, sign(t, rot, a.update), 2)
	again := &Operation{Type: OpUpdate, DID: st.DID, Prev: st3.OpHash, Document: docWith(t, newVM)}
	_, _, err = Apply(st3, sign(t, again, a.update), 3, t0, nil)
	wantOpErr(t, err, "", true, false)
	mustApply(t, st3, sign(t, again, nk), 3)
}

func TestRecoveryUndoesStolenUpdateKey(t *testing.T) {
	a := newActor(t)
	st := mustApply(t, nil, sign(t, a.createOp(), a.update), 0)
	thief := gen(t, keys.ES256)
	// The thief, holding the update key, rotates it to their own.
	steal := &Operation{Type: OpUpdate, DID: st.DID, Prev: st.OpHash, Document: docWith(t, thief), UpdateKey: jwkOf(t, thief)}
	st = mustApply(t, st, sign(t, steal, a.update), 1)
	// The thief cannot recover or deactivate: they lack the recovery key.
	tr := &Operation{Type: OpRecover, DID: st.DID, Prev: st.OpHash, Document: docWith(t, thief), UpdateKey: jwkOf(t, thief),
		RecoveryCommitment: thief.Thumbprint(), RecoveryKey: jwkOf(t, thief)}
	_, _, err := Apply(st, sign(t, tr, thief), 2, t0, nil)
	wantOpErr(t, err, "recoveryKey", true, false)
	// The owner recovers with the recovery key and a fresh update key.
	fresh, nextRec := gen(t, keys.ES256), gen(t, keys.ES256)
	rec := &Operation{Type: OpRecover, DID: st.DID, Prev: st.OpHash, Document: docWith(t, a.vm), UpdateKey: jwkOf(t, fresh),
		RecoveryCommitment: nextRec.Thumbprint(), RecoveryKey: jwkOf(t, a.recovery)}
	st2 := mustApply(t, st, sign(t, rec, a.recovery), 2)
	// The thief's key no longer authorises updates.
	up := &Operation{Type: OpUpdate, DID: st.DID, Prev: st2.OpHash, Document: docWith(t, thief)}
	_, _, err = Apply(st2, sign(t, up, thief), 3, t0, nil)
	wantOpErr(t, err, "", true, false)
	// The recovery key is one-time: it must commit to a new one.
	same := *rec
	same.Prev = st2.OpHash
	same.RecoveryKey = jwkOf(t, nextRec)
	same.RecoveryCommitment = nextRec.Thumbprint()
	_, _, err = Apply(st2, sign(t, &same, nextRec), 3, t0, nil)
	wantOpErr(t, err, "recoveryCommitment", false, false)
	// And the revealed old recovery key no longer matches.
	old := *rec
	old.Prev = st2.OpHash
	_, _, err = Apply(st2, sign(t, &old, a.recovery), 3, t0, nil)
	wantOpErr(t, err, "recoveryKey", true, false)
}

func TestDeactivate(t *testing.T) {
	a := newActor(t)
	st := mustApply(t, nil, sign(t, a.createOp(), a.update), 0)
	de := &Operation{Type: OpDeactivate, DID: st.DID, Prev: st.OpHash, RecoveryKey: jwkOf(t, a.recovery)}
	_, _, err := Apply(st, sign(t, de, a.update), 1, t0, nil)
	wantOpErr(t, err, "", true, false) // the update key cannot deactivate
	st2, v, err := Apply(st, sign(t, de, a.recovery), 1, t0, nil)
	if err != nil || !st2.Deactivated || v.Document != nil {
		t.Fatalf("deactivate: %v %+v", err, st2)
	}
	up := &Operation{Type: OpUpdate, DID: st.DID, Prev: st2.OpHash, Document: docWith(t, a.vm)}
	if _, _, err := Apply(st2, sign(t, up, a.update), 2, t0, nil); !errors.Is(err, ErrDeactivated) {
		t.Fatalf("update after deactivate: %v", err)
	}
}

func TestDocumentRules(t *testing.T) {
	a := newActor(t)
	for _, tc := range []struct {
		name, doc, field string
	}{
		{"unknown member", `{"name":"Alice"}`, "document.name"},
		{"mailto", `{"alsoKnownAs":["mailto:alice@example.org"]}`, "document.alsoKnownAs[0]"},
		{"not object", `[1]`, "document"},
		{"foreign vm id", `{"verificationMethod":[{"id":"did:example:x#k","type":"Multikey","publicKeyMultibase":"z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"}]}`, "document.verificationMethod[0].id"},
		{"bad key", `{"verificationMethod":[{"id":"#k","type":"Multikey","publicKeyMultibase":"zBAD"}]}`, "document.verificationMethod[0]"},
		{"dangling ref", `{"authentication":["#nope"]}`, "document"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op := a.createOp()
			op.Document = json.RawMessage(tc.doc)
			_, _, err := Apply(nil, sign(t, op, a.update), 0, t0, nil)
			wantOpErr(t, err, tc.field, false, false)
		})
	}
}

func TestParseSignedOpRefusesBadHeaders(t *testing.T) {
	a := newActor(t)
	good := sign(t, a.createOp(), a.update)
	parts := strings.Split(good.JWS, ".")
	for name, hdr := range map[string]string{
		"alg none":  `{"alg":"none","typ":"did-medid-op+jws"}`,
		"HS256":     `{"alg":"HS256","typ":"did-medid-op+jws"}`,
		"wrong typ": `{"alg":"ES256","typ":"JWT"}`,
		"jwk hdr":   `{"alg":"ES256","typ":"did-medid-op+jws","jwk":{"kty":"EC"}}`,
		"crit":      `{"alg":"ES256","typ":"did-medid-op+jws","crit":["x"],"x":1}`,
	} {
		t.Run(name, func(t *testing.T) {
			compact := b64(hdr) + "." + parts[1] + "." + parts[2]
			if _, err := ParseSignedOp(compact); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if _, err := ParseSignedOp(strings.Repeat("a", MaxOperationSize+1)); err == nil {
		t.Fatal("oversized accepted")
	}
	// A valid header with an unknown payload member is refused.
	if _, err := ParseSignedOp(parts[0] + "." + b64(`{"type":"create","extra":1}`) + "." + parts[2]); err == nil {
		t.Fatal("unknown payload member accepted")
	}
}

func TestEntryRoundTrip(t *testing.T) {
	a := newActor(t)
	op := sign(t, a.createOp(), a.update)
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	e, err := EncodeEntry(op, at)
	if err != nil {
		t.Fatal(err)
	}
	got, gotAt, ok, err := DecodeEntry(e)
	if err != nil || !ok || got.JWS != op.JWS || !gotAt.Equal(at) {
		t.Fatalf("%v %v %v", ok, err, gotAt)
	}
	if _, _, ok, _ := DecodeEntry([]byte(`{"type":"status/commitment","v":1}`)); ok {
		t.Fatal("foreign entry type claimed")
	}
}
