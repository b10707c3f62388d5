package did

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// ResolutionContext is the JSON-LD context of a DID resolution result.
const ResolutionContext = "https://w3id.org/did-resolution/v1"

// ResolutionOptions are the DID resolution options (DID Core 1.0 §7.1.1,
// DID Resolution §4.1). The zero value asks for the current document.
type ResolutionOptions struct {
	// Accept is the media type the caller wants the document in. Methods
	// may ignore it; representation is the binding's job.
	Accept string
	// VersionID asks for a specific version of the document.
	VersionID string
	// VersionTime asks for the version that was current at this time.
	VersionTime time.Time
}

// Result is the result of resolving a DID: the document with its metadata
// and the resolution metadata. Its JSON form is the DID resolution result
// of DID Resolution §4.3, with "@context": ResolutionContext and the
// members didDocument (null when absent), didDocumentMetadata and
// didResolutionMetadata.
type Result struct {
	Document           *Document          `json:"didDocument"`
	DocumentMetadata   DocumentMetadata   `json:"didDocumentMetadata"`
	ResolutionMetadata ResolutionMetadata `json:"didResolutionMetadata"`
}

// MarshalJSON implements json.Marshaler; it adds the @context member.
func (r Result) MarshalJSON() ([]byte, error) {
	return r.appendJSON(make([]byte, 0, 1536))
}

// DocumentMetadata is the DID document metadata (DID Core 1.0 §7.1.3) plus
// medid's ledger proof. Times are written in RFC 3339 form, in UTC, to the
// second; all members are omitted when empty.
type DocumentMetadata struct {
	Created       *time.Time
	Updated       *time.Time
	Deactivated   bool
	VersionID     string
	NextUpdate    *time.Time
	NextVersionID string
	EquivalentID  []string
	CanonicalID   string
	LedgerProof   *LedgerProof
}

// LedgerProof proves that the resolved document version is recorded in
// medid's transparency log: the raw log entry, its index and leaf hash, an
// inclusion proof for a tree size and the signed checkpoint (note) that
// commits to that tree.
type LedgerProof struct {
	LogOrigin string `json:"logOrigin"`
	LogIndex  uint64 `json:"logIndex"`
	// LeafHash is the RFC 6962 leaf hash of Entry, base64 (standard
	// encoding).
	LeafHash string `json:"leafHash"`
	// Entry is the raw ledger entry, base64 (standard encoding).
	Entry    string `json:"entry"`
	TreeSize uint64 `json:"treeSize"`
	// InclusionProof lists the proof hashes, base64 (standard encoding).
	InclusionProof []string `json:"inclusionProof"`
	// Checkpoint is the text of the signed note committing to TreeSize.
	Checkpoint string `json:"checkpoint"`
}

// documentMetadataJSON is the wire form of DocumentMetadata, used to
// decode it.
type documentMetadataJSON struct {
	Created       string       `json:"created,omitempty"`
	Updated       string       `json:"updated,omitempty"`
	Deactivated   bool         `json:"deactivated,omitempty"`
	VersionID     string       `json:"versionId,omitempty"`
	NextUpdate    string       `json:"nextUpdate,omitempty"`
	NextVersionID string       `json:"nextVersionId,omitempty"`
	EquivalentID  []string     `json:"equivalentId,omitempty"`
	CanonicalID   string       `json:"canonicalId,omitempty"`
	LedgerProof   *LedgerProof `json:"ledgerProof,omitempty"`
}

func parseTime(s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil, err
	}
	t = t.UTC()
	return &t, nil
}

// MarshalJSON implements json.Marshaler.
func (m DocumentMetadata) MarshalJSON() ([]byte, error) {
	return m.appendJSON(make([]byte, 0, 256)), nil
}

// UnmarshalJSON implements json.Unmarshaler. Times must be RFC 3339; they
// are converted to UTC.
func (m *DocumentMetadata) UnmarshalJSON(data []byte) error {
	var w documentMetadataJSON
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	var out DocumentMetadata
	var err error
	if out.Created, err = parseTime(w.Created); err != nil {
		return fmt.Errorf("created: %w", err)
	}
	if out.Updated, err = parseTime(w.Updated); err != nil {
		return fmt.Errorf("updated: %w", err)
	}
	if out.NextUpdate, err = parseTime(w.NextUpdate); err != nil {
		return fmt.Errorf("nextUpdate: %w", err)
	}
	out.Deactivated = w.Deactivated
	out.VersionID = w.VersionID
	out.NextVersionID = w.NextVersionID
	out.EquivalentID = w.EquivalentID
	out.CanonicalID = w.CanonicalID
	out.LedgerProof = w.LedgerProof
	*m = out
	return nil
}

// ResolutionMetadata is the DID resolution metadata (DID Core 1.0 §7.1.2).
type ResolutionMetadata struct {
	// ContentType is the media type of the document representation.
	ContentType string `json:"contentType,omitempty"`
	// Error is the W3C error type (see ErrorType) when resolution failed.
	Error string `json:"error,omitempty"`
	// ErrorMessage is a human-readable description of Error, safe to show
	// to the client.
	ErrorMessage string `json:"errorMessage,omitempty"`
}

// Method resolves the DIDs of one DID method.
//
// Resolve returns the document of d (whose Method() is Name()) with its
// metadata. A DID that does not exist is reported with an error wrapping
// ErrNotFound; a deactivated DID is not an error: the Result has
// DocumentMetadata.Deactivated set (and may omit the document). Invalid
// method-specific identifiers are reported with ErrInvalidDID and
// unsupported options with ErrInvalidOptions. The Result may be shared with
// other callers and must be treated as read-only.
type Method interface {
	Name() string
	Resolve(ctx context.Context, d DID, opts ResolutionOptions) (*Result, error)
}

// Resolver resolves DIDs and dereferences DID URLs by dispatching to the
// Method registered for the DID's method name. It is safe for concurrent
// use.
type Resolver struct {
	methods map[string]Method
}

// NewResolver returns a Resolver for the given methods. It panics if two
// methods have the same name or a name is empty, as that is a programming
// error.
func NewResolver(methods ...Method) *Resolver {
	r := &Resolver{methods: make(map[string]Method, len(methods))}
	for _, m := range methods {
		name := m.Name()
		if name == "" {
			panic("did: NewResolver: method with an empty name")
		}
		if _, dup := r.methods[name]; dup {
			panic("did: NewResolver: duplicate method " + name)
		}
		r.methods[name] = m
	}
	return r
}

// Resolve parses s as a DID and resolves it; see ResolveDID.
func (r *Resolver) Resolve(ctx context.Context, s string, opts ResolutionOptions) (*Result, error) {
	d, err := Parse(s)
	if err != nil {
		return nil, err
	}
	return r.ResolveDID(ctx, d, opts)
}

// ResolveDID resolves d with the method registered for d.Method(). An
// unregistered method gives an error wrapping ErrMethodNotSupported.
//
// A deactivated DID gives a Result with DocumentMetadata.Deactivated set and
// no error. The returned Result may be shared with other callers and must be
// treated as read-only.
func (r *Resolver) ResolveDID(ctx context.Context, d DID, opts ResolutionOptions) (*Result, error) {
	if d.IsZero() {
		return nil, fmt.Errorf("%w: empty DID", ErrInvalidDID)
	}
	m, ok := r.methods[d.Method()]
	if !ok {
		return nil, fmt.Errorf("%w: did:%s", ErrMethodNotSupported, d.Method())
	}
	res, err := m.Resolve(ctx, d, opts)
	if err != nil {
		return nil, err
	}
	switch {
	case res == nil:
		return nil, fmt.Errorf("%w: did:%s returned no result", ErrInternal, d.Method())
	case res.Document == nil && !res.DocumentMetadata.Deactivated:
		return nil, fmt.Errorf("%w: did:%s returned no document", ErrInternal, d.Method())
	case res.Document != nil && res.Document.ID != d.String():
		return nil, fmt.Errorf("%w: did:%s returned a document with another id", ErrInternal, d.Method())
	}
	return res, nil
}

// Dereference dereferences the DID URL u (DID Resolution §5). It resolves
// u.DID (DID parameters versionId and versionTime in u.Query fill in opts
// when opts leaves them empty) and returns the resource u names with the
// resolution result:
//
//   - u.Query has service=NAME: the endpoint URL (a string) of the service
//     whose id has the fragment NAME, resolved against the relativeRef
//     parameter if present (which must be a relative reference), and with
//     u.Fragment appended if the result has none;
//   - otherwise u.Fragment is set: the VerificationMethod or Service with
//     that id, with its ID made absolute;
//   - otherwise: the *Document.
//
// DID URL paths are not supported. A resource that does not exist, and any
// resource of a deactivated DID, gives an error wrapping ErrNotFound (with
// the Result, so callers can tell deactivation apart). Errors from resolving
// the DID are returned as ResolveDID returns them, with a nil Result.
func (r *Resolver) Dereference(ctx context.Context, u URL, opts ResolutionOptions) (any, *Result, error) {
	if u.DID.IsZero() {
		return nil, nil, fmt.Errorf("%w: empty DID URL", ErrInvalidDIDURL)
	}
	var q url.Values
	if u.Query != "" {
		var err error
		if q, err = url.ParseQuery(u.Query); err != nil {
			return nil, nil, fmt.Errorf("%w: malformed query", ErrInvalidDIDURL)
		}
		if v := q.Get("versionId"); v != "" && opts.VersionID == "" {
			opts.VersionID = v
		}
		if v := q.Get("versionTime"); v != "" && opts.VersionTime.IsZero() {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return nil, nil, fmt.Errorf("%w: versionTime is not an RFC 3339 time", ErrInvalidDIDURL)
			}
			opts.VersionTime = t
		}
	}
	res, err := r.ResolveDID(ctx, u.DID, opts)
	if err != nil {
		return nil, nil, err
	}
	if res.DocumentMetadata.Deactivated {
		return nil, res, fmt.Errorf("%w: the DID is deactivated", ErrNotFound)
	}
	doc := res.Document
	if u.Path != "" {
		return nil, res, fmt.Errorf("%w: DID URL paths are not supported", ErrNotFound)
	}
	if q.Has("service") {
		endpoint, err := serviceEndpoint(doc, u, q)
		if err != nil {
			return nil, res, err
		}
		return endpoint, res, nil
	}
	if u.Fragment != "" {
		id := u.DID.String() + "#" + u.Fragment
		if vm, ok := doc.VerificationMethodByID(id); ok {
			return vm, res, nil
		}
		if s, ok := doc.serviceByID(id); ok {
			return s, res, nil
		}
		return nil, res, fmt.Errorf("%w: no verification method or service #%s", ErrNotFound, u.Fragment)
	}
	return doc, res, nil
}

// serviceEndpoint selects the service named by the service parameter of q
// and returns its endpoint URL, joined with relativeRef and u's fragment.
func serviceEndpoint(doc *Document, u URL, q url.Values) (string, error) {
	name := q.Get("service")
	var svc *Service
	for i := range doc.Service {
		id := doc.absolute(doc.Service[i].ID)
		if frag, ok := strings.CutPrefix(id, u.DID.String()+"#"); ok && frag == name {
			svc = &doc.Service[i]
			break
		}
	}
	if svc == nil {
		return "", fmt.Errorf("%w: no service %q", ErrNotFound, name)
	}
	endpoint, ok := endpointURL(svc.ServiceEndpoint)
	if !ok {
		return "", fmt.Errorf("%w: service %q has no URL endpoint", ErrNotFound, name)
	}
	base, err := url.Parse(endpoint)
	if err != nil || base.Scheme == "" {
		return "", fmt.Errorf("%w: service %q has no URL endpoint", ErrNotFound, name)
	}
	if q.Has("relativeRef") {
		ref, err := url.Parse(q.Get("relativeRef"))
		if err != nil || ref.Scheme != "" || ref.Host != "" || ref.User != nil || strings.HasPrefix(q.Get("relativeRef"), "//") {
			return "", fmt.Errorf("%w: relativeRef must be a relative reference", ErrInvalidDIDURL)
		}
		base = base.ResolveReference(ref)
	}
	if u.Fragment != "" && base.Fragment == "" && base.RawFragment == "" {
		frag, err := url.PathUnescape(u.Fragment)
		if err != nil {
			return "", fmt.Errorf("%w: malformed fragment", ErrInvalidDIDURL)
		}
		base.Fragment = frag
	}
	return base.String(), nil
}

// endpointURL returns the URL of a serviceEndpoint value that is a string,
// or an array whose first entry is a string.
func endpointURL(raw json.RawMessage) (string, bool) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, s != ""
	}
	var arr []json.RawMessage
	if json.Unmarshal(raw, &arr) == nil && len(arr) > 0 && json.Unmarshal(arr[0], &s) == nil {
		return s, s != ""
	}
	return "", false
}
