package registry

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/gowebpki/jcs"

	"github.com/medid/medid/did"
	"github.com/medid/medid/internal/keys"
)

// State is the current state of one did:medid DID, derived from its
// operations in the log.
type State struct {
	DID                string
	Version            int    // number of applied operations; 1 after create
	OpHash             string // hash of the last applied operation
	UpdateKey          json.RawMessage
	RecoveryCommitment string
	Deactivated        bool
	Created, Updated   time.Time
	LastIndex          uint64 // log index of the last applied operation
}

// Version is one version of a DID: the document as of one operation.
type Version struct {
	Version  int
	Index    uint64
	Time     time.Time
	OpHash   string
	Type     OpType
	Document json.RawMessage // with id set; nil after deactivate
	Entry    []byte          // the ledger entry that carried the operation
}

// EntryType is the "type" of a ledger entry carrying a did:medid operation.
const EntryType = "did-medid/op"

// LedgerEntry is the canonical JSON appended to the ledger for an operation.
type LedgerEntry struct {
	V    int    `json:"v"`
	Type string `json:"type"`
	Time string `json:"time"` // RFC 3339, UTC, nanoseconds
	Op   string `json:"op"`   // the compact JWS
}

// EncodeEntry returns the canonical (JCS) ledger entry for op at t.
func EncodeEntry(op *SignedOp, t time.Time) ([]byte, error) {
	raw, err := json.Marshal(LedgerEntry{V: 1, Type: EntryType, Time: t.UTC().Format(time.RFC3339Nano), Op: op.JWS})
	if err != nil {
		return nil, err
	}
	return jcs.Transform(raw)
}

// DecodeEntry parses a ledger entry. ok is false for entries of other types
// (status, audit), which the registry ignores.
func DecodeEntry(data []byte) (op *SignedOp, at time.Time, ok bool, err error) {
	var probe struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, time.Time{}, false, fmt.Errorf("ledger entry: %w", err)
	}
	if probe.Type != EntryType {
		return nil, time.Time{}, false, nil
	}
	var e LedgerEntry
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return nil, time.Time{}, true, fmt.Errorf("ledger entry: %w", err)
	}
	if e.V != 1 {
		return nil, time.Time{}, true, fmt.Errorf("ledger entry: unsupported version %d", e.V)
	}
	at, err = time.Parse(time.RFC3339Nano, e.Time)
	if err != nil {
		return nil, time.Time{}, true, fmt.Errorf("ledger entry: time: %w", err)
	}
	op, err = ParseSignedOp(e.Op)
	if err != nil {
		return nil, time.Time{}, true, err
	}
	return op, at.UTC(), true, nil
}

// SubjectOf returns the DID an operation concerns (derived for create).
func SubjectOf(op *SignedOp) (did.DID, error) {
	if op.Op.Type == OpCreate {
		if op.hash != "" { // the create's DID is its hash, in base32
			sum, err := base64.RawURLEncoding.DecodeString(op.hash)
			if err == nil {
				return did.Parse("did:medid:" + strings.ToLower(b32.EncodeToString(sum)))
			}
		}
		return DIDFromCreate(&op.Op)
	}
	return did.Parse(op.Op.DID)
}

// Apply checks op against the current state (nil when the DID does not
// exist) and returns the state and version after it. It is the only place
// where signatures are checked and the one function both the live path and
// log replay use, so the two cannot disagree.
func Apply(cur *State, op *SignedOp, index uint64, at time.Time, entry []byte) (*State, *Version, error) {
	subject, err := SubjectOf(op)
	if err != nil {
		return nil, nil, opErr("did", "%v", err)
	}
	o := &op.Op
	hash := op.hash
	if hash == "" {
		var err error
		if hash, err = o.Hash(); err != nil {
			return nil, nil, err
		}
	}
	if o.Type == OpCreate {
		if cur != nil {
			return nil, nil, &OpError{Field: "did", Reason: subject.String() + " already exists", Stale: true}
		}
		ukPub, ukAlg, err := publicKeyOf("updateKey", o.UpdateKey)
		if err != nil {
			return nil, nil, err
		}
		if err := checkCommitment(o.RecoveryCommitment); err != nil {
			return nil, nil, err
		}
		if err := op.verifySig(ukPub, ukAlg); err != nil {
			return nil, nil, err
		}
		doc, err := normaliseDocument(subject, o.Document)
		if err != nil {
			return nil, nil, err
		}
		uk, err := canonicalJWK(o.UpdateKey)
		if err != nil {
			return nil, nil, err
		}
		st := &State{DID: subject.String(), Version: 1, OpHash: hash, UpdateKey: uk,
			RecoveryCommitment: o.RecoveryCommitment, Created: at, Updated: at, LastIndex: index}
		return st, &Version{Version: 1, Index: index, Time: at, OpHash: hash, Type: o.Type, Document: doc, Entry: entry}, nil
	}

	if cur == nil {
		return nil, nil, &OpError{Field: "did", Reason: subject.String() + " does not exist"}
	}
	if cur.Deactivated {
		return nil, nil, ErrDeactivated
	}
	if o.Prev != cur.OpHash {
		return nil, nil, &OpError{Field: "prev", Reason: "does not name the current version (stale or replayed operation)", Stale: true}
	}
	next := *cur
	next.Version = cur.Version + 1
	next.OpHash = hash
	next.Updated = at
	next.LastIndex = index
	v := &Version{Version: next.Version, Index: index, Time: at, OpHash: hash, Type: o.Type, Entry: entry}

	switch o.Type {
	case OpUpdate:
		ukPub, ukAlg, err := publicKeyOf("state.updateKey", cur.UpdateKey)
		if err != nil {
			return nil, nil, err
		}
		if err := op.verifySig(ukPub, ukAlg); err != nil {
			return nil, nil, err
		}
		if len(o.UpdateKey) > 0 {
			if _, _, err := publicKeyOf("updateKey", o.UpdateKey); err != nil {
				return nil, nil, err
			}
			if next.UpdateKey, err = canonicalJWK(o.UpdateKey); err != nil {
				return nil, nil, err
			}
		}
	case OpRecover, OpDeactivate:
		rkPub, rkAlg, err := publicKeyOf("recoveryKey", o.RecoveryKey)
		if err != nil {
			return nil, nil, err
		}
		tp, err := keys.ThumbprintOf(rkPub)
		if err != nil || tp != cur.RecoveryCommitment {
			return nil, nil, &OpError{Field: "recoveryKey", Reason: "does not match the recovery commitment", Unauthorized: true}
		}
		if err := op.verifySig(rkPub, rkAlg); err != nil {
			return nil, nil, err
		}
		if o.Type == OpDeactivate {
			next.Deactivated = true
			next.UpdateKey = nil
			next.RecoveryCommitment = ""
			return &next, v, nil
		}
		if _, _, err := publicKeyOf("updateKey", o.UpdateKey); err != nil {
			return nil, nil, err
		}
		if err := checkCommitment(o.RecoveryCommitment); err != nil {
			return nil, nil, err
		}
		if o.RecoveryCommitment == cur.RecoveryCommitment {
			return nil, nil, opErr("recoveryCommitment", "must commit to a new recovery key")
		}
		if next.UpdateKey, err = canonicalJWK(o.UpdateKey); err != nil {
			return nil, nil, err
		}
		next.RecoveryCommitment = o.RecoveryCommitment
	}
	doc, err := normaliseDocument(subject, o.Document)
	if err != nil {
		return nil, nil, err
	}
	v.Document = doc
	return &next, v, nil
}

func checkCommitment(c string) error {
	if len(c) != 43 || strings.ContainsAny(c, "+/=") {
		return opErr("recoveryCommitment", "must be a base64url SHA-256 JWK thumbprint (RFC 7638)")
	}
	return nil
}

func canonicalJWK(raw json.RawMessage) (json.RawMessage, error) {
	pub, _, err := keys.PublicKeyFromJWK(raw)
	if err != nil {
		return nil, err
	}
	return keys.PublicJWKJSONOf(pub)
}

// documentMembers are the top-level members a did:medid document may carry.
// Anything else is refused so that arbitrary (possibly personal) data cannot
// be written to the public log.
var documentMembers = map[string]bool{
	"@context": true, "id": true, "controller": true, "alsoKnownAs": true,
	"verificationMethod": true, "authentication": true, "assertionMethod": true,
	"keyAgreement": true, "capabilityInvocation": true, "capabilityDelegation": true,
	"service": true,
}

// normaliseDocument validates document content for subject and returns it
// canonicalised with its id set.
func normaliseDocument(subject did.DID, raw json.RawMessage) (json.RawMessage, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return nil, opErr("document", "must be a JSON object")
	}
	for k := range members {
		if !documentMembers[k] {
			return nil, opErr("document."+k, "member not allowed in a did:medid document")
		}
	}
	if err := checkNestedMembers(members); err != nil {
		return nil, err
	}
	var doc did.Document
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, opErr("document", "%v", err)
	}
	if doc.ID != "" && doc.ID != subject.String() {
		return nil, opErr("document.id", "must be absent or equal to %s", subject)
	}
	doc.ID = subject.String()
	if len(doc.VerificationMethod) > maxMethods {
		return nil, opErr("document.verificationMethod", "at most %d verification methods", maxMethods)
	}
	if len(doc.Service) > maxServices {
		return nil, opErr("document.service", "at most %d services", maxServices)
	}
	for i, a := range doc.AlsoKnownAs {
		l := strings.ToLower(a)
		if strings.HasPrefix(l, "mailto:") || strings.HasPrefix(l, "tel:") {
			return nil, opErr(fmt.Sprintf("document.alsoKnownAs[%d]", i), "contact identifiers are personal data and may not be published")
		}
	}
	doc.Absolutize()
	for i, vm := range doc.VerificationMethod {
		if vm.Controller == "" {
			doc.VerificationMethod[i].Controller = subject.String()
		}
		if !strings.HasPrefix(vm.ID, subject.String()+"#") {
			return nil, opErr(fmt.Sprintf("document.verificationMethod[%d].id", i), "must be a fragment of %s", subject)
		}
		if _, err := doc.VerificationMethod[i].PublicKey(); err != nil {
			return nil, opErr(fmt.Sprintf("document.verificationMethod[%d]", i), "%v", err)
		}
	}
	if err := doc.Validate(); err != nil {
		return nil, opErr("document", "%v", err)
	}
	out, err := json.Marshal(&doc)
	if err != nil {
		return nil, err
	}
	return jcs.Transform(out)
}

var (
	methodMembers  = map[string]bool{"id": true, "type": true, "controller": true, "publicKeyJwk": true, "publicKeyMultibase": true}
	serviceMembers = map[string]bool{"id": true, "type": true, "serviceEndpoint": true}
	relationships  = []string{"authentication", "assertionMethod", "keyAgreement", "capabilityInvocation", "capabilityDelegation"}
)

// checkNestedMembers applies the allowlist inside verification methods
// (listed or embedded in a relationship) and services: a member the
// resolved document would drop must not reach the public log either.
func checkNestedMembers(members map[string]json.RawMessage) error {
	check := func(field string, raw json.RawMessage, allowed map[string]bool) error {
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return opErr(field, "must be an array")
		}
		for i, e := range list {
			var m map[string]json.RawMessage
			if json.Unmarshal(e, &m) != nil {
				continue // a reference string, or a shape error reported later
			}
			for k := range m {
				if !allowed[k] {
					return opErr(fmt.Sprintf("%s[%d].%s", field, i, k), "member not allowed in a did:medid document")
				}
			}
		}
		return nil
	}
	if raw, ok := members["verificationMethod"]; ok {
		if err := check("document.verificationMethod", raw, methodMembers); err != nil {
			return err
		}
	}
	if raw, ok := members["service"]; ok {
		if err := check("document.service", raw, serviceMembers); err != nil {
			return err
		}
	}
	for _, r := range relationships {
		if raw, ok := members[r]; ok {
			if err := check("document."+r, raw, methodMembers); err != nil {
				return err
			}
		}
	}
	return nil
}
