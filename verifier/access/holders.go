package access

import (
	"context"
	"crypto"

	"github.com/medid/medid/did"
)

// DIDResolver resolves a DID (*did.Resolver).
type DIDResolver interface {
	ResolveDID(ctx context.Context, d did.DID, opts did.ResolutionOptions) (*did.Result, error)
}

// DIDHolders is the HolderKeys that resolves the DID and looks for the key
// among its authentication methods.
type DIDHolders struct {
	Resolver DIDResolver
}

// Controls reports whether key is an authentication key of d's current
// document. A deactivated DID controls nothing.
func (h DIDHolders) Controls(ctx context.Context, d did.DID, key crypto.PublicKey) (bool, error) {
	k, ok := key.(interface{ Equal(crypto.PublicKey) bool })
	if !ok {
		return false, nil
	}
	res, err := h.Resolver.ResolveDID(ctx, d, did.ResolutionOptions{})
	if err != nil {
		return false, err
	}
	if res.DocumentMetadata.Deactivated || res.Document == nil {
		return false, nil
	}
	doc := res.Document
	for _, rel := range doc.Authentication {
		var vm did.VerificationMethod
		if rel.Embedded != nil {
			vm = *rel.Embedded
		} else if vm, ok = doc.VerificationMethodByID(rel.Reference); !ok {
			continue
		}
		pub, err := vm.PublicKey()
		if err == nil && k.Equal(pub) {
			return true, nil
		}
	}
	return false, nil
}
