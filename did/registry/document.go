package registry

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/medid/medid/internal/keys"
)

// applyDocumentOperations computes the next document from the current one
// and the DIF didDocumentOperation list (setDidDocument, addToDidDocument,
// removeFromDidDocument; setDidDocument when omitted).
func applyDocumentOperations(subject string, current json.RawMessage, ops []string, docs []json.RawMessage) (json.RawMessage, error) {
	if len(docs) == 0 {
		return nil, reqErr("didDocument", "required")
	}
	if len(ops) == 0 {
		ops = []string{"setDidDocument"}
	}
	if len(ops) != len(docs) {
		return nil, reqErr("didDocumentOperation", "must have one entry per didDocument (%d operations, %d documents)", len(ops), len(docs))
	}
	var doc map[string]any
	if err := json.Unmarshal(current, &doc); err != nil {
		return nil, fmt.Errorf("registrar: current document: %w", err)
	}
	delete(doc, "id")
	for i, op := range ops {
		var patch map[string]any
		if err := json.Unmarshal(docs[i], &patch); err != nil {
			return nil, reqErr(fmt.Sprintf("didDocument[%d]", i), "must be a JSON object")
		}
		switch op {
		case "setDidDocument":
			doc = patch
		case "addToDidDocument":
			for k, v := range patch {
				add, isList := v.([]any)
				have, hasList := doc[k].([]any)
				switch {
				case isList && (hasList || doc[k] == nil):
					doc[k] = append(have, add...)
				default:
					doc[k] = v
				}
			}
		case "removeFromDidDocument":
			for k, v := range patch {
				rm, isList := v.([]any)
				have, hasList := doc[k].([]any)
				if !isList || !hasList {
					delete(doc, k)
					continue
				}
				drop := map[string]bool{}
				for _, e := range rm {
					drop[entryID(subject, e)] = true
				}
				kept := []any{}
				for _, e := range have {
					if !drop[entryID(subject, e)] {
						kept = append(kept, e)
					}
				}
				doc[k] = kept
			}
		default:
			return nil, reqErr(fmt.Sprintf("didDocumentOperation[%d]", i), "unknown operation %q", op)
		}
	}
	delete(doc, "id")
	return json.Marshal(doc)
}

// entryID identifies an array entry: its id member, or itself if a
// string, with ids of the subject's own fragments in relative form so that
// "#key-1" and "did:medid:…#key-1" name the same entry.
func entryID(subject string, e any) string {
	rel := func(id string) string {
		if f, ok := strings.CutPrefix(id, subject+"#"); ok {
			return "#" + f
		}
		return id
	}
	switch v := e.(type) {
	case string:
		return rel(v)
	case map[string]any:
		if id, ok := v["id"].(string); ok {
			return rel(id)
		}
	}
	b, _ := json.Marshal(e)
	return string(b)
}

// isTemplate reports whether a verification method carries no key: in
// internal secret mode the server generates its key.
func isTemplate(vm map[string]any) bool {
	_, jwk := vm["publicKeyJwk"]
	_, mb := vm["publicKeyMultibase"]
	return !jwk && !mb
}

// fillTemplates generates keys for verification method templates:
// type JsonWebKey (or JsonWebKey2020) gets a P-256 key as publicKeyJwk,
// Multikey gets an Ed25519 key as publicKeyMultibase.
func fillTemplates(raw json.RawMessage) (json.RawMessage, []*keys.PrivateKey, error) {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, nil, reqErr("didDocument", "must be a JSON object")
	}
	vms, _ := doc["verificationMethod"].([]any)
	var generated []*keys.PrivateKey
	for i, e := range vms {
		vm, ok := e.(map[string]any)
		if !ok || !isTemplate(vm) {
			continue
		}
		field := fmt.Sprintf("didDocument.verificationMethod[%d]", i)
		switch vm["type"] {
		case "JsonWebKey", "JsonWebKey2020":
			k, err := keys.Generate(keys.ES256)
			if err != nil {
				return nil, nil, err
			}
			j, err := k.PublicJWKJSON()
			if err != nil {
				return nil, nil, err
			}
			vm["publicKeyJwk"] = json.RawMessage(j)
			generated = append(generated, k)
		case "Multikey":
			k, err := keys.Generate(keys.EdDSA)
			if err != nil {
				return nil, nil, err
			}
			mk, err := k.Multikey()
			if err != nil {
				return nil, nil, err
			}
			vm["publicKeyMultibase"] = mk
			generated = append(generated, k)
		default:
			return nil, nil, reqErr(field+".type", "a key template must be JsonWebKey (P-256) or Multikey (Ed25519)")
		}
	}
	out, err := json.Marshal(doc)
	return out, generated, err
}

// rejectTemplates refuses key templates in client-managed mode, where the
// server must never generate (and so never know) a key.
func rejectTemplates(raw json.RawMessage) error {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return reqErr("didDocument", "must be a JSON object")
	}
	vms, _ := doc["verificationMethod"].([]any)
	for i, e := range vms {
		if vm, ok := e.(map[string]any); ok && isTemplate(vm) {
			return reqErr(fmt.Sprintf("didDocument.verificationMethod[%d]", i), "needs publicKeyJwk or publicKeyMultibase in client-managed secret mode")
		}
	}
	return nil
}
