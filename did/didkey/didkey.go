// Package didkey implements the did:key DID method
// (https://w3c-ccg.github.io/did-method-key/) for Ed25519 ("z6Mk…") and
// P-256 ("zDn…") keys: the method-specific identifier is the key's Multikey
// encoding, and the DID document is derived from it without I/O.
package didkey

import (
	"context"
	"crypto"
	"encoding/json"
	"fmt"

	"github.com/medid/medid/did"
	"github.com/medid/medid/did/multikey"
)

// MethodName is the DID method name, "key".
const MethodName = "key"

// keyContext is the @context of a did:key document with a Multikey
// verification method.
const keyContext = `["https://www.w3.org/ns/did/v1","https://w3id.org/security/multikey/v1"]`

// Method resolves did:key DIDs. The zero value is ready to use.
type Method struct{}

var _ did.Method = Method{}

// Name returns "key".
func (Method) Name() string { return MethodName }

// Resolve returns the document of a did:key DID: one Multikey verification
// method "did:key:z…#z…" referenced from authentication, assertionMethod,
// capabilityInvocation and capabilityDelegation. Ed25519 and P-256 keys are
// signing keys, so there is no keyAgreement (X25519 derivation is not
// performed).
//
// did:key documents never change, so the version options are ignored. An
// identifier that is not the canonical Multikey encoding of a supported key
// gives an error wrapping did.ErrInvalidDID.
func (Method) Resolve(_ context.Context, d did.DID, _ did.ResolutionOptions) (*did.Result, error) {
	if d.Method() != MethodName {
		return nil, fmt.Errorf("%w: not a did:key DID", did.ErrInvalidDID)
	}
	mk := d.ID()
	pub, err := multikey.Decode(mk)
	if err != nil {
		return nil, fmt.Errorf("%w: did:key: %v", did.ErrInvalidDID, err)
	}
	// Only the canonical encoding names the key, so each key has one DID.
	if again, err := multikey.Encode(pub); err != nil || again != mk {
		return nil, fmt.Errorf("%w: did:key: non-canonical key encoding", did.ErrInvalidDID)
	}
	id := d.String()
	vmID := id + "#" + mk
	ref := []did.Relationship{{Reference: vmID}}
	doc := &did.Document{
		Context: json.RawMessage(keyContext),
		ID:      id,
		VerificationMethod: []did.VerificationMethod{{
			ID:                 vmID,
			Type:               did.TypeMultikey,
			Controller:         id,
			PublicKeyMultibase: mk,
		}},
		Authentication:       ref,
		AssertionMethod:      ref,
		CapabilityInvocation: ref,
		CapabilityDelegation: ref,
	}
	return &did.Result{Document: doc}, nil
}

// New returns the did:key DID of pub, an ed25519.PublicKey or an
// *ecdsa.PublicKey on P-256.
func New(pub crypto.PublicKey) (did.DID, error) {
	mk, err := multikey.Encode(pub)
	if err != nil {
		return did.DID{}, fmt.Errorf("didkey: %w", err)
	}
	return did.Parse("did:key:" + mk)
}
