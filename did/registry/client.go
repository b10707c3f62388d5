package registry

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/medid/medid/internal/keys"
)

// Client drives a medid registrar in client-managed secret mode: private
// keys stay with the caller, who signs the server's signing requests.
type Client struct {
	BaseURL string // e.g. https://id.example.org
	HTTP    *http.Client
}

// ClientKeys are a DID controller's private keys.
type ClientKeys struct {
	Update   *keys.PrivateKey
	Recovery *keys.PrivateKey
}

// HTTPError is a non-2xx answer, with the problem details when present.
type HTTPError struct {
	Status  int
	Type    string `json:"type"`
	Title   string `json:"title"`
	Detail  string `json:"detail"`
	Field   string `json:"field"`
	Content string `json:"-"`
}

func (e *HTTPError) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("HTTP %d: %s", e.Status, e.Detail)
	}
	return fmt.Sprintf("HTTP %d: %s", e.Status, strings.TrimSpace(e.Content))
}

// Create registers a new DID with document content doc.
func (c *Client) Create(ctx context.Context, doc json.RawMessage, k ClientKeys) (*RegistrationState, error) {
	uk, err := k.Update.PublicJWKJSON()
	if err != nil {
		return nil, err
	}
	rk, err := k.Recovery.PublicJWKJSON()
	if err != nil {
		return nil, err
	}
	req := Request{Options: RequestOptions{ClientSecretMode: true, UpdateKey: uk, RecoveryKey: rk},
		DIDDocument: RawDocumentOrList{doc}}
	return c.run(ctx, "/1.0/create?method=medid", req, k.Update)
}

// Update replaces the document of d; a non-nil newUpdate rotates the
// update key (the old one signs the rotation).
func (c *Client) Update(ctx context.Context, d string, doc json.RawMessage, update, newUpdate *keys.PrivateKey) (*RegistrationState, error) {
	req := Request{DID: d, Options: RequestOptions{ClientSecretMode: true},
		DIDDocumentOperation: []string{"setDidDocument"}, DIDDocument: RawDocumentOrList{doc}}
	if newUpdate != nil {
		j, err := newUpdate.PublicJWKJSON()
		if err != nil {
			return nil, err
		}
		req.Options.UpdateKey = j
	}
	return c.run(ctx, "/1.0/update", req, update)
}

// Recover takes d back with the recovery key, setting a new document, a
// new update key and a commitment to the next recovery key.
func (c *Client) Recover(ctx context.Context, d string, doc json.RawMessage, recovery *keys.PrivateKey, next ClientKeys) (*RegistrationState, error) {
	rk, err := recovery.PublicJWKJSON()
	if err != nil {
		return nil, err
	}
	uk, err := next.Update.PublicJWKJSON()
	if err != nil {
		return nil, err
	}
	req := Request{DID: d, Options: RequestOptions{ClientSecretMode: true, Recover: true, RecoveryKey: rk, UpdateKey: uk,
		RecoveryCommitment: next.Recovery.Thumbprint()}, DIDDocumentOperation: []string{"setDidDocument"}, DIDDocument: RawDocumentOrList{doc}}
	return c.run(ctx, "/1.0/update", req, recovery)
}

// Deactivate deactivates d with its recovery key.
func (c *Client) Deactivate(ctx context.Context, d string, recovery *keys.PrivateKey) (*RegistrationState, error) {
	rk, err := recovery.PublicJWKJSON()
	if err != nil {
		return nil, err
	}
	req := Request{DID: d, Options: RequestOptions{ClientSecretMode: true, RecoveryKey: rk}}
	return c.run(ctx, "/1.0/deactivate", req, recovery)
}

// run sends req, signs the signing request with signer (after checking that
// the payload is what the server says it serialised and that it asks for
// this key), and completes the job.
func (c *Client) run(ctx context.Context, path string, req Request, signer *keys.PrivateKey) (*RegistrationState, error) {
	st, err := c.post(ctx, path, req)
	if err != nil {
		return nil, err
	}
	if st.DIDState.State != "action" || st.DIDState.Action != "signPayload" {
		return nil, fmt.Errorf("registrar answered state %q, want a signing request", st.DIDState.State)
	}
	sr, ok := st.DIDState.SigningRequest[signingRequestID]
	if !ok {
		return nil, fmt.Errorf("registrar sent no %s", signingRequestID)
	}
	if sr.KID != signer.Thumbprint() {
		return nil, fmt.Errorf("registrar asks for key %s, not ours (%s)", sr.KID, signer.Thumbprint())
	}
	input, err := base64.RawURLEncoding.DecodeString(sr.SerializedPayload)
	if err != nil {
		return nil, fmt.Errorf("serializedPayload: %w", err)
	}
	// Sign only what we can read: the payload inside the signing input must
	// be the operation shown, which must be the one we asked for.
	_, payloadB64, ok := strings.Cut(string(input), ".")
	if !ok {
		return nil, fmt.Errorf("serializedPayload is not a JWS signing input")
	}
	payload, err := base64.RawURLEncoding.DecodeString(payloadB64)
	if err != nil || !bytes.Equal(payload, sr.Payload) {
		return nil, fmt.Errorf("serializedPayload does not carry the payload shown")
	}
	if err := checkPayload(payload, &req); err != nil {
		return nil, err
	}
	sig, err := SignInput(signer, input)
	if err != nil {
		return nil, err
	}
	done := Request{JobID: st.JobID, Secret: &Secret{SigningResponse: map[string]SigningResponse{
		signingRequestID: {Signature: base64.RawURLEncoding.EncodeToString(sig)}}}}
	return c.post(ctx, path, done)
}

// checkPayload makes sure the operation to be signed is the one requested.
func checkPayload(payload []byte, req *Request) error {
	var op Operation
	if err := json.Unmarshal(payload, &op); err != nil {
		return fmt.Errorf("signing request payload: %w", err)
	}
	if req.DID != "" && op.DID != req.DID {
		return fmt.Errorf("signing request is for %s, not %s", op.DID, req.DID)
	}
	if len(req.Options.UpdateKey) > 0 && !jsonEqual(op.UpdateKey, req.Options.UpdateKey) {
		return fmt.Errorf("signing request carries another update key")
	}
	return nil
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	ab, _ := json.Marshal(x)
	bb, _ := json.Marshal(y)
	return bytes.Equal(ab, bb)
}

func (c *Client) post(ctx context.Context, path string, req Request) (*RegistrationState, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.BaseURL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(hr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		he := &HTTPError{Status: resp.StatusCode, Content: string(b)}
		_ = json.Unmarshal(b, he)
		return nil, he
	}
	var st RegistrationState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("registrar answer: %w", err)
	}
	return &st, nil
}
