package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/medid/medid/did/registry"
	"github.com/medid/medid/internal/keys"
)

const defaultServer = "http://127.0.0.1:8080"

func cmdDID(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return usageError("did: want create, update, recover, deactivate or resolve")
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("did "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", envOr(getenv, "MEDID_SERVER", defaultServer), "medid server base URL (env MEDID_SERVER)")
	keyPath := fs.String("keys", envOr(getenv, "MEDID_KEYS", "medid-keys.json"), "local key file, mode 0600 (env MEDID_KEYS)")
	didFlag := fs.String("did", "", "the DID (update, recover, deactivate)")
	docPath := fs.String("doc", "", "DID document content (JSON file) to set instead of the default")
	keyType := fs.String("key-type", "ES256", "verification key type: ES256 (P-256) or EdDSA (Ed25519)")
	versionTime := fs.String("version-time", "", "resolve as of this RFC 3339 time")
	versionID := fs.String("version-id", "", "resolve this version")
	if err := parseInterspersed(fs, args); err != nil {
		return err
	}
	cl := &registry.Client{BaseURL: *server, HTTP: &http.Client{Timeout: 30 * time.Second}}
	switch sub {
	case "resolve":
		if fs.NArg() != 1 {
			return usageError("did resolve: want exactly one DID")
		}
		return resolveCmd(ctx, *server, fs.Arg(0), *versionTime, *versionID, stdout)
	case "create", "update", "recover", "deactivate":
	default:
		return usageError(fmt.Sprintf("did: unknown subcommand %q", sub))
	}
	if fs.NArg() > 0 {
		return usageError(fmt.Sprintf("did %s: unexpected arguments %q", sub, fs.Args()))
	}
	if sub != "create" && *didFlag == "" {
		return usageError(fmt.Sprintf("did %s: --did is required", sub))
	}
	alg := keys.Algorithm(*keyType)
	if alg != keys.ES256 && alg != keys.EdDSA {
		return usageError("--key-type must be ES256 or EdDSA")
	}
	kf, err := loadKeyFile(*keyPath)
	if err != nil {
		return err
	}
	var st *registry.RegistrationState
	switch sub {
	case "create":
		st, err = didCreate(ctx, cl, kf, alg, *docPath)
	case "update":
		st, err = didUpdate(ctx, cl, kf, *didFlag, alg, *docPath)
	case "recover":
		st, err = didRecover(ctx, cl, kf, *didFlag, alg, *docPath)
	case "deactivate":
		st, err = didDeactivate(ctx, cl, kf, *didFlag)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s %s (version %v, log index %v); keys in %s\n", st.DIDState.DID, pastTense(sub),
		st.DIDDocumentMetadata["versionId"], st.DIDRegistrationMetadata["logIndex"], kf.path)
	return nil
}

func pastTense(s string) string {
	if strings.HasSuffix(s, "e") {
		return s + "d"
	}
	return s + "ed"
}

func envOr(getenv func(string) string, k, def string) string {
	if v := getenv(k); v != "" {
		return v
	}
	return def
}

// defaultDocument is one verification key as #key-1, for authentication
// and assertions.
func defaultDocument(vk *keys.PrivateKey) (json.RawMessage, error) {
	vm := map[string]any{"id": "#key-1"}
	if vk.Algorithm() == keys.EdDSA {
		mk, err := vk.Multikey()
		if err != nil {
			return nil, err
		}
		vm["type"], vm["publicKeyMultibase"] = "Multikey", mk
	} else {
		j, err := vk.PublicJWKJSON()
		if err != nil {
			return nil, err
		}
		vm["type"], vm["publicKeyJwk"] = "JsonWebKey", json.RawMessage(j)
	}
	return json.Marshal(map[string]any{
		"verificationMethod": []any{vm},
		"authentication":     []any{"#key-1"},
		"assertionMethod":    []any{"#key-1"},
	})
}

// documentFor reads --doc, or builds the default document with a new
// verification key (returned so it can be saved first).
func documentFor(docPath string, alg keys.Algorithm) (json.RawMessage, *keys.PrivateKey, error) {
	if docPath != "" {
		b, err := os.ReadFile(docPath)
		if err != nil {
			return nil, nil, err
		}
		if !json.Valid(b) {
			return nil, nil, fmt.Errorf("%s: not JSON", docPath)
		}
		return b, nil, nil
	}
	vk, err := keys.Generate(alg)
	if err != nil {
		return nil, nil, err
	}
	doc, err := defaultDocument(vk)
	return doc, vk, err
}

// controllerKeys are a fresh set of controller keys and the document
// content that goes with them, ready to be saved before use.
type controllerKeys struct {
	update, recovery *keys.PrivateKey
	doc              json.RawMessage
	entry            *didKeys
}

func newControllerKeys(alg keys.Algorithm, docPath string) (*controllerKeys, error) {
	upd, err := keys.Generate(keys.ES256)
	if err != nil {
		return nil, err
	}
	rec, err := keys.Generate(keys.ES256)
	if err != nil {
		return nil, err
	}
	doc, vk, err := documentFor(docPath, alg)
	if err != nil {
		return nil, err
	}
	entry := &didKeys{Verification: map[string]string{}}
	if entry.Update, err = encodeKey(upd); err != nil {
		return nil, err
	}
	if entry.Recovery, err = encodeKey(rec); err != nil {
		return nil, err
	}
	if vk != nil {
		if entry.Verification["#key-1"], err = encodeKey(vk); err != nil {
			return nil, err
		}
	}
	return &controllerKeys{update: upd, recovery: rec, doc: doc, entry: entry}, nil
}

func didCreate(ctx context.Context, cl *registry.Client, kf *keyFile, alg keys.Algorithm, docPath string) (*registry.RegistrationState, error) {
	nk, err := newControllerKeys(alg, docPath)
	if err != nil {
		return nil, err
	}
	return kf.stage("pending:"+nk.update.Thumbprint(), nk.entry, func() (*registry.RegistrationState, error) {
		return cl.Create(ctx, nk.doc, registry.ClientKeys{Update: nk.update, Recovery: nk.recovery})
	})
}

func didUpdate(ctx context.Context, cl *registry.Client, kf *keyFile, d string, alg keys.Algorithm, docPath string) (*registry.RegistrationState, error) {
	entry, err := kf.keysOf(d)
	if err != nil {
		return nil, err
	}
	upd, err := decodeKey(entry.Update)
	if err != nil {
		return nil, err
	}
	doc, vk, err := documentFor(docPath, alg)
	if err != nil {
		return nil, err
	}
	// Every update also rotates the update key.
	nextUpd, err := keys.Generate(keys.ES256)
	if err != nil {
		return nil, err
	}
	next := &didKeys{Recovery: entry.Recovery, Verification: map[string]string{}}
	if next.Update, err = encodeKey(nextUpd); err != nil {
		return nil, err
	}
	for k, v := range entry.Verification {
		next.Verification[k] = v
	}
	if vk != nil {
		if next.Verification["#key-1"], err = encodeKey(vk); err != nil {
			return nil, err
		}
	}
	return kf.stage(d, next, func() (*registry.RegistrationState, error) {
		return cl.Update(ctx, d, doc, upd, nextUpd)
	})
}

func didRecover(ctx context.Context, cl *registry.Client, kf *keyFile, d string, alg keys.Algorithm, docPath string) (*registry.RegistrationState, error) {
	entry, err := kf.keysOf(d)
	if err != nil {
		return nil, err
	}
	rec, err := decodeKey(entry.Recovery)
	if err != nil {
		return nil, err
	}
	nk, err := newControllerKeys(alg, docPath)
	if err != nil {
		return nil, err
	}
	return kf.stage(d, nk.entry, func() (*registry.RegistrationState, error) {
		return cl.Recover(ctx, d, nk.doc, rec, registry.ClientKeys{Update: nk.update, Recovery: nk.recovery})
	})
}

func didDeactivate(ctx context.Context, cl *registry.Client, kf *keyFile, d string) (*registry.RegistrationState, error) {
	entry, err := kf.keysOf(d)
	if err != nil {
		return nil, err
	}
	rec, err := decodeKey(entry.Recovery)
	if err != nil {
		return nil, err
	}
	return cl.Deactivate(ctx, d, rec)
}

// resolveCmd prints the resolution result; a DID that does not resolve
// (not found, deactivated, invalid) prints the result and fails.
func resolveCmd(ctx context.Context, server, d, versionTime, versionID string, stdout io.Writer) error {
	q := url.Values{}
	if versionTime != "" {
		if _, err := time.Parse(time.RFC3339, versionTime); err != nil {
			return usageError("--version-time must be RFC 3339, e.g. 2026-01-02T15:04:05Z")
		}
		q.Set("versionTime", versionTime)
	}
	if versionID != "" {
		q.Set("versionId", versionID)
	}
	u := strings.TrimRight(server, "/") + "/1.0/identifiers/" + url.PathEscape(d)
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/did-resolution")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	var pretty any
	if json.Unmarshal(body, &pretty) == nil {
		out, _ := json.MarshalIndent(pretty, "", "  ")
		fmt.Fprintf(stdout, "%s\n", out)
	} else {
		fmt.Fprintf(stdout, "%s\n", body)
	}
	if resp.StatusCode != http.StatusOK {
		var r struct {
			Meta struct {
				Error string `json:"error"`
			} `json:"didResolutionMetadata"`
		}
		_ = json.Unmarshal(body, &r)
		return errors.New("resolution failed: HTTP " + resp.Status + " " + r.Meta.Error)
	}
	return nil
}

// parseInterspersed parses flags that may come before or after positional
// arguments (medid did resolve DID --version-time T), keeping the
// positional ones in order as fs.Args().
func parseInterspersed(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return fs.Parse(append([]string{"--"}, pos...))
}
