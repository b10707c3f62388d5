package registry

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/medid/medid/did"
	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/internal/kv"
	"github.com/medid/medid/internal/ledger"
)

// KeyStore is what the registrar needs of the encrypted keystore.
type KeyStore interface {
	Put(ctx context.Context, id string, k *keys.PrivateKey) error
	Get(ctx context.Context, id string) (*keys.PrivateKey, error)
	Delete(ctx context.Context, id string) error
}

// Keystore ids are content-addressed by the key's RFC 7638 thumbprint, so
// the current state alone says which stored key authorises the next step.
func updateKeyID(d, thumb string) string   { return "did/" + d + "/update/" + thumb }
func recoveryKeyID(d, thumb string) string { return "did/" + d + "/recovery/" + thumb }

// VerificationKeyID is the keystore id of a verification method key the
// server holds for d, by the key's thumbprint.
func VerificationKeyID(d, thumb string) string { return "did/" + d + "/vm/" + thumb }

// JobTTL bounds how long a client-managed signing request stays valid.
const JobTTL = 15 * time.Minute

// Registrar implements the DIF DID Registration API over a Registry.
type Registrar struct {
	reg  *Registry
	keys KeyStore
	kv   kv.Store
}

// NewRegistrar returns a registrar; keys may be nil when internal secret
// mode is not offered.
func NewRegistrar(reg *Registry, ks KeyStore, store kv.Store) *Registrar {
	return &Registrar{reg: reg, keys: ks, kv: store}
}

// Request is a DIF registration request (create, update or deactivate).
type Request struct {
	JobID                string            `json:"jobId,omitempty"`
	DID                  string            `json:"did,omitempty"`
	Options              RequestOptions    `json:"options,omitempty"`
	Secret               *Secret           `json:"secret,omitempty"`
	DIDDocumentOperation []string          `json:"didDocumentOperation,omitempty"`
	DIDDocument          RawDocumentOrList `json:"didDocument,omitempty"`
}

// RawDocumentOrList accepts a single document or a list (one per
// didDocumentOperation), as the DIF API allows.
type RawDocumentOrList []json.RawMessage

// UnmarshalJSON implements json.Unmarshaler.
func (r *RawDocumentOrList) UnmarshalJSON(b []byte) error {
	t := strings.TrimLeft(string(b), " \t\r\n")
	if strings.HasPrefix(t, "[") {
		var l []json.RawMessage
		if err := json.Unmarshal(b, &l); err != nil {
			return err
		}
		*r = l
		return nil
	}
	if !strings.HasPrefix(t, "{") {
		return errors.New("didDocument must be an object or an array of objects")
	}
	*r = []json.RawMessage{json.RawMessage(b)}
	return nil
}

// RequestOptions are the request options medid understands.
type RequestOptions struct {
	// ClientSecretMode asks for client-managed secret mode: the server
	// never sees a private key and answers with a signing request.
	ClientSecretMode bool `json:"clientSecretMode,omitempty"`
	// UpdateKey is the client's public update key (create, recover), or a
	// new one to rotate to (update).
	UpdateKey json.RawMessage `json:"updateKey,omitempty"`
	// RecoveryKey is the public recovery key: on create its commitment is
	// recorded; on recover and deactivate it is revealed.
	RecoveryKey json.RawMessage `json:"recoveryKey,omitempty"`
	// RecoveryCommitment is the RFC 7638 thumbprint of the next recovery
	// key: instead of RecoveryKey on create, and required on recover.
	RecoveryCommitment string `json:"recoveryCommitment,omitempty"`
	// Recover turns an update into a recovery, signed by the recovery key.
	Recover bool `json:"recover,omitempty"`
	// RotateUpdateKey (internal mode) generates a new update key.
	RotateUpdateKey bool `json:"rotateUpdateKey,omitempty"`
}

// Secret carries client-managed signing responses.
type Secret struct {
	SigningResponse map[string]SigningResponse `json:"signingResponse,omitempty"`
}

// SigningResponse is the client's signature over a serializedPayload.
type SigningResponse struct {
	Signature string `json:"signature"` // base64url JWS signature
}

// SigningRequest asks the client to sign serializedPayload (the JWS signing
// input, base64url-encoded) with the key named by kid.
type SigningRequest struct {
	Payload           json.RawMessage `json:"payload"`
	SerializedPayload string          `json:"serializedPayload"`
	KID               string          `json:"kid"`
	Alg               string          `json:"alg"`
	Purpose           string          `json:"purpose"`
}

// RegistrationState is a DIF registration state.
type RegistrationState struct {
	JobID                   string         `json:"jobId,omitempty"`
	DIDState                DIDState       `json:"didState"`
	DIDRegistrationMetadata map[string]any `json:"didRegistrationMetadata"`
	DIDDocumentMetadata     map[string]any `json:"didDocumentMetadata"`
}

// DIDState is the didState member of a registration state.
type DIDState struct {
	State          string                    `json:"state"`
	DID            string                    `json:"did,omitempty"`
	DIDDocument    json.RawMessage           `json:"didDocument,omitempty"`
	Action         string                    `json:"action,omitempty"`
	SigningRequest map[string]SigningRequest `json:"signingRequest,omitempty"`
}

// RequestError is a request the registrar refuses before any operation is
// built (Field names the member).
type RequestError struct {
	Field, Reason string
	NotFound      bool
	Forbidden     bool
	// Unauthenticated marks an admin-only request made without the token.
	Unauthenticated bool
}

func (e *RequestError) Error() string { return e.Field + ": " + e.Reason }

func reqErr(field, format string, args ...any) error {
	return &RequestError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// job is a pending client-managed operation (persistence form).
type job struct {
	Kind         string          `json:"kind"`
	SigningInput string          `json:"signingInput"`
	Payload      json.RawMessage `json:"payload"`
}

const signingRequestID = "signingRequest1"

// Create handles POST /1.0/create?method=medid. admin reports whether the
// caller holds the admin token (required for internal secret mode).
func (g *Registrar) Create(ctx context.Context, req *Request, admin bool) (*RegistrationState, error) {
	if req.JobID != "" {
		return g.finish(ctx, "create", req)
	}
	if req.DID != "" {
		return nil, reqErr("did", "not allowed on create (the DID is derived from the operation)")
	}
	if len(req.DIDDocumentOperation) > 0 {
		return nil, reqErr("didDocumentOperation", "not allowed on create")
	}
	if len(req.DIDDocument) > 1 {
		return nil, reqErr("didDocument", "create takes one document")
	}
	var doc json.RawMessage
	if len(req.DIDDocument) == 1 {
		doc = req.DIDDocument[0]
	}
	nonce := randomString(16)
	if err := refuseOptions(req.Options, "create"); err != nil {
		return nil, err
	}
	if req.Options.ClientSecretMode {
		if len(req.Options.UpdateKey) == 0 {
			return nil, reqErr("options.updateKey", "required in client-managed secret mode")
		}
		commit, err := commitmentOf(req.Options.RecoveryKey, req.Options.RecoveryCommitment)
		if err != nil {
			return nil, err
		}
		if doc == nil {
			return nil, reqErr("didDocument", "required in client-managed secret mode")
		}
		if err := rejectTemplates(doc); err != nil {
			return nil, err
		}
		op := &Operation{Type: OpCreate, Document: doc, UpdateKey: req.Options.UpdateKey, RecoveryCommitment: commit, Nonce: nonce}
		return g.signingRequest(ctx, "create", op, req.Options.UpdateKey, "update")
	}
	if !admin {
		return nil, &RequestError{Field: "options.clientSecretMode", Reason: "internal secret mode requires the admin token; set clientSecretMode to manage keys yourself", Unauthenticated: true}
	}
	if g.keys == nil {
		return nil, reqErr("options.clientSecretMode", "this server does not hold keys")
	}
	// Internal secret mode: generate update and recovery keys and the keys
	// of any verification method templates.
	uk, err := keys.Generate(keys.ES256)
	if err != nil {
		return nil, err
	}
	rk, err := keys.Generate(keys.ES256)
	if err != nil {
		return nil, err
	}
	if doc == nil {
		doc = json.RawMessage(`{"verificationMethod":[{"id":"#key-1","type":"JsonWebKey"},{"id":"#key-2","type":"Multikey"}],` +
			`"authentication":["#key-1","#key-2"],"assertionMethod":["#key-1","#key-2"]}`)
	}
	doc, vmKeys, err := fillTemplates(doc)
	if err != nil {
		return nil, err
	}
	ukJWK, err := uk.PublicJWKJSON()
	if err != nil {
		return nil, err
	}
	op := &Operation{Type: OpCreate, Document: doc, UpdateKey: ukJWK, RecoveryCommitment: rk.Thumbprint(), Nonce: nonce}
	subject, err := DIDFromCreate(op)
	if err != nil {
		return nil, err
	}
	d := subject.String()
	stored := []string{}
	store := func(id string, k *keys.PrivateKey) error {
		if err := g.keys.Put(ctx, id, k); err != nil {
			return err
		}
		stored = append(stored, id)
		return nil
	}
	cleanup := func() {
		for _, id := range stored {
			_ = g.keys.Delete(context.WithoutCancel(ctx), id)
		}
	}
	// Keys are stored before the operation is appended: a DID whose keys
	// were lost could never be updated.
	if err := store(updateKeyID(d, uk.Thumbprint()), uk); err != nil {
		return nil, err
	}
	if err := store(recoveryKeyID(d, rk.Thumbprint()), rk); err != nil {
		cleanup()
		return nil, err
	}
	for _, k := range vmKeys {
		if err := store(VerificationKeyID(d, k.Thumbprint()), k); err != nil {
			cleanup()
			return nil, err
		}
	}
	signed, err := signOp(op, uk)
	if err != nil {
		cleanup()
		return nil, err
	}
	res, err := g.reg.Submit(ctx, signed)
	if err != nil {
		var ni *NotIndexedError
		if !errors.As(err, &ni) { // once in the log, the DID exists: keep its keys
			cleanup()
		}
		return nil, err
	}
	return finished(res), nil
}

// Update handles POST /1.0/update (and recovery with options.recover).
func (g *Registrar) Update(ctx context.Context, req *Request, admin bool) (*RegistrationState, error) {
	if req.JobID != "" {
		return g.finish(ctx, "update", req)
	}
	if err := refuseOptions(req.Options, "update"); err != nil {
		return nil, err
	}
	st, subject, err := g.current(ctx, req.DID)
	if err != nil {
		return nil, err
	}
	cur, err := g.reg.idx.version(ctx, subject, st.Version)
	if err != nil {
		return nil, err
	}
	doc, err := applyDocumentOperations(subject, cur.Document, req.DIDDocumentOperation, req.DIDDocument)
	if err != nil {
		return nil, err
	}
	if req.Options.ClientSecretMode {
		if err := rejectTemplates(doc); err != nil {
			return nil, err
		}
		if req.Options.Recover {
			if len(req.Options.RecoveryKey) == 0 || len(req.Options.UpdateKey) == 0 {
				return nil, reqErr("options", "recover needs recoveryKey (revealed), updateKey and recoveryCommitment (the next recovery key)")
			}
			if req.Options.RecoveryCommitment == "" {
				return nil, reqErr("options.recoveryCommitment", "required for recover")
			}
			op := &Operation{Type: OpRecover, DID: subject, Prev: st.OpHash, Document: doc, UpdateKey: req.Options.UpdateKey,
				RecoveryCommitment: req.Options.RecoveryCommitment, RecoveryKey: req.Options.RecoveryKey}
			return g.signingRequest(ctx, "update", op, req.Options.RecoveryKey, "recovery")
		}
		op := &Operation{Type: OpUpdate, DID: subject, Prev: st.OpHash, Document: doc, UpdateKey: req.Options.UpdateKey}
		return g.signingRequest(ctx, "update", op, st.UpdateKey, "update")
	}
	if !admin {
		return nil, &RequestError{Field: "options.clientSecretMode", Reason: "internal secret mode requires the admin token; set clientSecretMode to manage keys yourself", Unauthenticated: true}
	}
	uk, err := g.heldKey(ctx, subject, st.UpdateKey, updateKeyID)
	if err != nil {
		return nil, err
	}
	doc, vmKeys, err := fillTemplates(doc)
	if err != nil {
		return nil, err
	}
	for _, k := range vmKeys {
		if err := g.keys.Put(ctx, VerificationKeyID(subject, k.Thumbprint()), k); err != nil {
			return nil, err
		}
	}
	op := &Operation{Type: OpUpdate, DID: subject, Prev: st.OpHash, Document: doc}
	if req.Options.RotateUpdateKey {
		nk, err := keys.Generate(keys.ES256)
		if err != nil {
			return nil, err
		}
		if err := g.keys.Put(ctx, updateKeyID(subject, nk.Thumbprint()), nk); err != nil {
			return nil, err
		}
		if op.UpdateKey, err = nk.PublicJWKJSON(); err != nil {
			return nil, err
		}
	}
	return g.signAndSubmit(ctx, op, uk)
}

// signAndSubmit signs op with a key the server holds and submits it.
func (g *Registrar) signAndSubmit(ctx context.Context, op *Operation, k *keys.PrivateKey) (*RegistrationState, error) {
	signed, err := signOp(op, k)
	if err != nil {
		return nil, err
	}
	res, err := g.reg.Submit(ctx, signed)
	if err != nil {
		return nil, err
	}
	return finished(res), nil
}

// Deactivate handles POST /1.0/deactivate.
func (g *Registrar) Deactivate(ctx context.Context, req *Request, admin bool) (*RegistrationState, error) {
	if req.JobID != "" {
		return g.finish(ctx, "deactivate", req)
	}
	if len(req.DIDDocument) > 0 || len(req.DIDDocumentOperation) > 0 {
		return nil, reqErr("didDocument", "not allowed on deactivate")
	}
	if err := refuseOptions(req.Options, "deactivate"); err != nil {
		return nil, err
	}
	st, subject, err := g.current(ctx, req.DID)
	if err != nil {
		return nil, err
	}
	if req.Options.ClientSecretMode {
		if len(req.Options.RecoveryKey) == 0 {
			return nil, reqErr("options.recoveryKey", "required: deactivation is signed by the recovery key")
		}
		op := &Operation{Type: OpDeactivate, DID: subject, Prev: st.OpHash, RecoveryKey: req.Options.RecoveryKey}
		return g.signingRequest(ctx, "deactivate", op, req.Options.RecoveryKey, "recovery")
	}
	if !admin {
		return nil, &RequestError{Field: "options.clientSecretMode", Reason: "internal secret mode requires the admin token; set clientSecretMode to manage keys yourself", Unauthenticated: true}
	}
	rk, err := g.heldRecoveryKey(ctx, subject, st.RecoveryCommitment)
	if err != nil {
		return nil, err
	}
	rkJWK, err := rk.PublicJWKJSON()
	if err != nil {
		return nil, err
	}
	return g.signAndSubmit(ctx, &Operation{Type: OpDeactivate, DID: subject, Prev: st.OpHash, RecoveryKey: rkJWK}, rk)
}

func (g *Registrar) current(ctx context.Context, s string) (*State, string, error) {
	if s == "" {
		return nil, "", reqErr("did", "required")
	}
	d, err := did.Parse(s)
	if err != nil {
		return nil, "", reqErr("did", "%v", err)
	}
	if d.Method() != Method {
		return nil, "", reqErr("did", "only did:medid DIDs are registered here")
	}
	st, err := g.reg.State(ctx, d)
	if errors.Is(err, kv.ErrNotFound) {
		return nil, "", &RequestError{Field: "did", Reason: d.String() + " not found", NotFound: true}
	}
	if err != nil {
		return nil, "", err
	}
	if st.Deactivated {
		return nil, "", ErrDeactivated
	}
	return st, d.String(), nil
}

func (g *Registrar) heldKey(ctx context.Context, d string, jwkJSON json.RawMessage, id func(d, t string) string) (*keys.PrivateKey, error) {
	if g.keys == nil {
		return nil, reqErr("options.clientSecretMode", "this server does not hold keys")
	}
	pub, _, err := keys.PublicKeyFromJWK(jwkJSON)
	if err != nil {
		return nil, err
	}
	t, err := keys.ThumbprintOf(pub)
	if err != nil {
		return nil, err
	}
	return g.heldKeyByID(ctx, id(d, t))
}

func (g *Registrar) heldRecoveryKey(ctx context.Context, d, commitment string) (*keys.PrivateKey, error) {
	if g.keys == nil {
		return nil, reqErr("options.clientSecretMode", "this server does not hold keys")
	}
	return g.heldKeyByID(ctx, recoveryKeyID(d, commitment))
}

// heldKeyByID returns the key the server holds under keystore id, or the
// error telling the client to manage its keys itself.
func (g *Registrar) heldKeyByID(ctx context.Context, id string) (*keys.PrivateKey, error) {
	k, err := g.keys.Get(ctx, id)
	if errors.Is(err, kv.ErrNotFound) {
		return nil, &RequestError{Field: "options.clientSecretMode", Reason: "the server does not hold this DID's keys; use client-managed secret mode", Forbidden: true}
	}
	return k, err
}

// signingRequest stores a pending job and answers state "action".
func (g *Registrar) signingRequest(ctx context.Context, kind string, op *Operation, signerJWK json.RawMessage, purpose string) (*RegistrationState, error) {
	pub, alg, err := keys.PublicKeyFromJWK(signerJWK)
	if err != nil {
		return nil, reqErr("options", "signing key: %v", err)
	}
	thumb, err := keys.ThumbprintOf(pub)
	if err != nil {
		return nil, err
	}
	payload, err := op.Canonical()
	if err != nil {
		return nil, err
	}
	if len(payload) > MaxOperationSize/2 {
		return nil, reqErr("didDocument", "operation too large")
	}
	// Check the operation now, with a placeholder signature check skipped:
	// only shape errors surface here; Apply checks the signed result.
	if err := op.checkShape(); err != nil {
		return nil, err
	}
	hdr, _ := json.Marshal(map[string]string{"alg": string(alg), "typ": JWSType})
	input := base64.RawURLEncoding.EncodeToString(hdr) + "." + base64.RawURLEncoding.EncodeToString(payload)
	jobID := randomString(16)
	jb, err := json.Marshal(job{Kind: kind, SigningInput: input, Payload: payload})
	if err != nil {
		return nil, err
	}
	if err := g.kv.Put(ctx, jobPrefix+jobID, jb, JobTTL); err != nil {
		return nil, err
	}
	return &RegistrationState{
		JobID: jobID,
		DIDState: DIDState{State: "action", Action: "signPayload", DID: op.DID,
			SigningRequest: map[string]SigningRequest{signingRequestID: {
				Payload: payload, SerializedPayload: base64.RawURLEncoding.EncodeToString([]byte(input)),
				KID: thumb, Alg: string(alg), Purpose: purpose,
			}}},
		DIDRegistrationMetadata: map[string]any{"expiresIn": int(JobTTL.Seconds())},
		DIDDocumentMetadata:     map[string]any{},
	}, nil
}

// finish completes a client-managed job with its signing response. The job
// is taken atomically: it can be completed once.
func (g *Registrar) finish(ctx context.Context, kind string, req *Request) (*RegistrationState, error) {
	if req.Secret == nil || len(req.Secret.SigningResponse) == 0 {
		return nil, reqErr("secret.signingResponse", "required with jobId")
	}
	resp, ok := req.Secret.SigningResponse[signingRequestID]
	if !ok || len(req.Secret.SigningResponse) != 1 {
		return nil, reqErr("secret.signingResponse", "must answer %q", signingRequestID)
	}
	if _, err := base64.RawURLEncoding.DecodeString(resp.Signature); err != nil || resp.Signature == "" {
		return nil, reqErr("secret.signingResponse."+signingRequestID+".signature", "must be base64url without padding")
	}
	raw, err := g.kv.Take(ctx, jobPrefix+req.JobID)
	if errors.Is(err, kv.ErrNotFound) {
		return nil, &RequestError{Field: "jobId", Reason: "unknown, expired or already completed", NotFound: true}
	}
	if err != nil {
		return nil, err
	}
	var j job
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, fmt.Errorf("registrar: stored job: %w", err)
	}
	if j.Kind != kind {
		return nil, reqErr("jobId", "belongs to a %s request", j.Kind)
	}
	op, err := ParseSignedOp(j.SigningInput + "." + resp.Signature)
	if err != nil {
		return nil, err
	}
	res, err := g.reg.Submit(ctx, op)
	if errors.Is(err, ledger.ErrPushback) {
		// Nothing was appended: give the job back so the client can retry.
		_ = g.kv.CompareAndSwap(context.WithoutCancel(ctx), jobPrefix+req.JobID, nil, raw, JobTTL)
	}
	if err != nil {
		return nil, err
	}
	return finished(res), nil
}

func finished(res *Result) *RegistrationState {
	return &RegistrationState{
		DIDState:                DIDState{State: "finished", DID: res.DID.String(), DIDDocument: res.Version.Document},
		DIDRegistrationMetadata: map[string]any{"logIndex": res.LogIndex},
		DIDDocumentMetadata:     map[string]any{"versionId": fmt.Sprint(res.Version.Version)},
	}
}

// refuseOptions rejects options that do not apply to this request, rather
// than silently ignoring them.
func refuseOptions(o RequestOptions, kind string) error {
	type opt struct {
		set  bool
		name string
	}
	var bad []opt
	if o.ClientSecretMode {
		bad = append(bad, opt{o.RotateUpdateKey, "rotateUpdateKey"})
		switch kind {
		case "update":
			if !o.Recover {
				bad = append(bad, opt{len(o.RecoveryKey) > 0, "recoveryKey"}, opt{o.RecoveryCommitment != "", "recoveryCommitment"})
			}
		case "deactivate":
			bad = append(bad, opt{len(o.UpdateKey) > 0, "updateKey"}, opt{o.RecoveryCommitment != "", "recoveryCommitment"}, opt{o.Recover, "recover"})
		case "create":
			bad = append(bad, opt{o.Recover, "recover"})
		}
	} else {
		bad = append(bad, opt{len(o.UpdateKey) > 0, "updateKey"}, opt{len(o.RecoveryKey) > 0, "recoveryKey"},
			opt{o.RecoveryCommitment != "", "recoveryCommitment"}, opt{o.Recover, "recover"})
		if kind != "update" {
			bad = append(bad, opt{o.RotateUpdateKey, "rotateUpdateKey"})
		}
	}
	for _, b := range bad {
		if b.set {
			mode := "internal secret mode"
			if o.ClientSecretMode {
				mode = "client-managed secret mode"
			}
			return reqErr("options."+b.name, "does not apply to %s in %s", kind, mode)
		}
	}
	return nil
}

func commitmentOf(key json.RawMessage, commitment string) (string, error) {
	switch {
	case len(key) > 0 && commitment != "":
		return "", reqErr("options.recoveryKey", "give recoveryKey or recoveryCommitment, not both")
	case len(key) > 0:
		pub, _, err := keys.PublicKeyFromJWK(key)
		if err != nil {
			return "", reqErr("options.recoveryKey", "%v", err)
		}
		return keys.ThumbprintOf(pub)
	case commitment != "":
		if err := checkCommitment(commitment); err != nil {
			return "", err
		}
		return commitment, nil
	default:
		return "", reqErr("options.recoveryKey", "required in client-managed secret mode (or options.recoveryCommitment)")
	}
}

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// SignOp signs op with k as a compact JWS (client side and internal mode).
func SignOp(op *Operation, k *keys.PrivateKey) (*SignedOp, error) { return signOp(op, k) }

func signOp(op *Operation, k *keys.PrivateKey) (*SignedOp, error) {
	payload, err := op.Canonical()
	if err != nil {
		return nil, err
	}
	hdr, _ := json.Marshal(map[string]string{"alg": string(k.Algorithm()), "typ": JWSType})
	input := base64.RawURLEncoding.EncodeToString(hdr) + "." + base64.RawURLEncoding.EncodeToString(payload)
	sig, err := SignInput(k, []byte(input))
	if err != nil {
		return nil, err
	}
	return ParseSignedOp(input + "." + base64.RawURLEncoding.EncodeToString(sig))
}
