package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/medid/medid/did/registry"
	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/internal/kv"
)

// serverDIDKey records this instance's own DID in the local store (the DID
// lives on this instance's ledger).
const serverDIDKey = "server/did"

// ensureServerDID registers the server's own did:medid on first start, in
// internal secret mode: an ES256 key (#key-1) and an Ed25519 key (#key-2)
// for assertion and authentication, and a service publishing the ledger's
// URL, origin and checkpoint verifier key.
func (a *App) ensureServerDID(ctx context.Context) error {
	raw, err := a.Local.Get(ctx, serverDIDKey)
	if err == nil {
		a.ServerDID = string(raw)
		return nil
	}
	if !errors.Is(err, kv.ErrNotFound) {
		return err
	}
	doc := map[string]any{
		"verificationMethod": []any{
			map[string]any{"id": "#key-1", "type": "JsonWebKey"},
			map[string]any{"id": "#key-2", "type": "Multikey"},
		},
		"authentication":  []any{"#key-1", "#key-2"},
		"assertionMethod": []any{"#key-1", "#key-2"},
		"service": []any{map[string]any{
			"id":   "#ledger",
			"type": "TransparencyLog",
			"serviceEndpoint": map[string]any{
				"url":         a.Config.BaseURL + "/ledger/",
				"origin":      a.Ledger.Origin(),
				"verifierKey": a.Ledger.VerifierKey(),
			},
		}},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	st, err := a.Registrar.Create(ctx, &registry.Request{DIDDocument: registry.RawDocumentOrList{b}}, true)
	if err != nil {
		return err
	}
	if st.DIDState.State != "finished" || st.DIDState.DID == "" {
		return fmt.Errorf("unexpected registration state %q", st.DIDState.State)
	}
	if err := a.Local.CompareAndSwap(ctx, serverDIDKey, nil, []byte(st.DIDState.DID), 0); err != nil {
		return err
	}
	a.ServerDID = st.DIDState.DID
	a.Log.Info("registered the server's own DID", "did", a.ServerDID)
	return nil
}

// issuerDIDKeysKey records, per configured issuer DID, that its keys were
// generated (the keys themselves are in the keystore).
func issuerDIDKeysKey(d string) string { return "issuer/did-keys/" + d }

// IssuerDIDDocumentFile is written into the data directory when the server
// generates keys for a configured MEDID_ISSUER_DID: the DID document to
// publish (for did:web, at /.well-known/did.json) so that the DID lists
// the keys the server signs with.
const IssuerDIDDocumentFile = "issuer-did.json"

// ensureIssuerDID sets IssuerDID. For a configured DID other than the
// server's own, it generates an ES256 and an Ed25519 key on first start,
// keeps them in the keystore under the DID, and writes the DID document
// to publish. Until the published DID lists those keys, issuance fails
// with an error naming the DID.
func (a *App) ensureIssuerDID(ctx context.Context) error {
	d := a.Config.IssuerDID
	if d == "" || d == a.ServerDID {
		a.IssuerDID = a.ServerDID
		return nil
	}
	a.IssuerDID = d
	raw, err := a.Store.Get(ctx, issuerDIDKeysKey(d))
	if err == nil {
		var doc map[string]any
		if err := json.Unmarshal(raw, &doc); err != nil {
			return err
		}
		return a.writeIssuerDIDDocument(raw)
	}
	if !errors.Is(err, kv.ErrNotFound) {
		return err
	}
	var vms []any
	var refs []any
	for i, alg := range []keys.Algorithm{keys.ES256, keys.EdDSA} {
		k, err := keys.Generate(alg)
		if err != nil {
			return err
		}
		if err := a.Keys.Put(ctx, registry.VerificationKeyID(d, k.Thumbprint()), k); err != nil {
			return err
		}
		id := fmt.Sprintf("%s#key-%d", d, i+1)
		vm := map[string]any{"id": id, "controller": d}
		if alg == keys.ES256 {
			jwkJSON, err := k.PublicJWKJSON()
			if err != nil {
				return err
			}
			vm["type"], vm["publicKeyJwk"] = "JsonWebKey", json.RawMessage(jwkJSON)
		} else {
			mk, err := k.Multikey()
			if err != nil {
				return err
			}
			vm["type"], vm["publicKeyMultibase"] = "Multikey", mk
		}
		vms, refs = append(vms, vm), append(refs, id)
	}
	doc, err := json.MarshalIndent(map[string]any{
		"@context":           []any{"https://www.w3.org/ns/did/v1", "https://w3id.org/security/jwk/v1", "https://w3id.org/security/multikey/v1"},
		"id":                 d,
		"verificationMethod": vms,
		"assertionMethod":    refs,
		"authentication":     refs,
	}, "", "  ")
	if err != nil {
		return err
	}
	if err := a.Store.CompareAndSwap(ctx, issuerDIDKeysKey(d), nil, doc, 0); err != nil {
		return err
	}
	a.Log.Info("generated issuer keys for the configured issuer DID; publish the DID document so that it lists them",
		"did", d, "path", filepath.Join(a.Config.DataDir, IssuerDIDDocumentFile))
	return a.writeIssuerDIDDocument(doc)
}

func (a *App) writeIssuerDIDDocument(doc []byte) error {
	return os.WriteFile(filepath.Join(a.Config.DataDir, IssuerDIDDocumentFile), append(doc, '\n'), 0o644)
}
