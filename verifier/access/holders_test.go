package access_test

import (
	"context"
	"errors"
	"testing"

	"github.com/medid/medid/did"
	"github.com/medid/medid/did/didkey"
	"github.com/medid/medid/verifier/access"
)

func TestDIDHolders(t *testing.T) {
	h := access.DIDHolders{Resolver: did.NewResolver(didkey.Method{})}
	a, b := newParty(t), newParty(t)
	ctx := context.Background()
	if ok, err := h.Controls(ctx, a.did, a.key.Public()); !ok || err != nil {
		t.Fatalf("a's own key: %v %v", ok, err)
	}
	if ok, err := h.Controls(ctx, a.did, b.key.Public()); ok || err != nil {
		t.Fatalf("b's key for a: %v %v", ok, err)
	}
	if ok, err := h.Controls(ctx, mustDID(t, "did:web:clinic.example"), a.key.Public()); ok || !errors.Is(err, did.ErrMethodNotSupported) {
		t.Fatalf("unresolvable DID: %v %v", ok, err)
	}
	if ok, _ := h.Controls(ctx, a.did, "not a key"); ok {
		t.Fatal("a non-key matched")
	}
}
