package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/medid/medid/did/registry"
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
