package walletapi

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/internal/kv"
)

// ArchivePrefix starts every backup archive and names its version:
//
//	medid-wallet-backup/1.<base64url(header JSON)>.<base64url(ciphertext)>
//
// The header holds the argon2id parameters, salt and nonce; the
// ciphertext is AES-256-GCM, keyed by argon2id(passphrase), over the JSON
// of the account's keys, credentials and history, with the prefix and
// encoded header as additional data (so the header cannot be altered).
const ArchivePrefix = "medid-wallet-backup/1."

// MaxArchive bounds an archive accepted for import.
const MaxArchive = 32 << 20

// archiveHeader is the clear header of an archive.
type archiveHeader struct {
	KDF     string       `json:"kdf"` // "argon2id"
	Params  Argon2Params `json:"params"`
	Salt    []byte       `json:"salt"`
	Nonce   []byte       `json:"nonce"`
	Created time.Time    `json:"created"`
}

// archiveContent is an archive's plaintext.
type archiveContent struct {
	V           int             `json:"v"`
	Keys        []keyRecord     `json:"keys"`
	Credentials []credRecord    `json:"credentials"`
	History     []historyRecord `json:"history"`
	// DIDs are the did:medid controller keys (update and recovery).
	DIDs []didRecord `json:"dids,omitempty"`
}

// Archive is an exported backup.
type Archive struct {
	Archive     string `json:"archive"`
	Keys        int    `json:"keys"`
	Credentials int    `json:"credentials"`
}

func checkPassphrase(p string) error {
	switch {
	case !utf8.ValidString(p):
		return fieldErr("passphrase", "must be valid UTF-8")
	case utf8.RuneCountInString(p) < 12:
		return fieldErr("passphrase", "must be at least 12 characters")
	case len(p) > 1024:
		return fieldErr("passphrase", "must be at most 1024 bytes")
	}
	return nil
}

// Export returns an archive of the account's keys, credentials and history,
// encrypted under passphrase.
func (s *Service) Export(ctx context.Context, a Account, passphrase string) (*Archive, error) {
	if err := checkPassphrase(passphrase); err != nil {
		return nil, err
	}
	v, err := s.vault(a)
	if err != nil {
		return nil, err
	}
	content := archiveContent{V: 1, Keys: []keyRecord{}, Credentials: []credRecord{}}
	if err := s.store.List(ctx, dataKey(a.ID, "key", ""), func(k string, raw []byte) error {
		var rec keyRecord
		if err := v.open(k, raw, &rec); err != nil {
			return err
		}
		content.Keys = append(content.Keys, rec)
		return nil
	}); err != nil {
		return nil, err
	}
	if err := s.store.List(ctx, dataKey(a.ID, "cred", ""), func(k string, raw []byte) error {
		var rec credRecord
		if err := v.open(k, raw, &rec); err != nil {
			return err
		}
		content.Credentials = append(content.Credentials, rec)
		return nil
	}); err != nil {
		return nil, err
	}
	if err := s.store.List(ctx, dataKey(a.ID, "did", ""), func(k string, raw []byte) error {
		var rec didRecord
		if err := v.open(k, raw, &rec); err != nil {
			return err
		}
		content.DIDs = append(content.DIDs, rec)
		return nil
	}); err != nil {
		return nil, err
	}
	if content.History, err = s.historyRecords(ctx, a); err != nil {
		return nil, err
	}
	plain, err := json.Marshal(content)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	for _, k := range content.Keys {
		clear(k.PKCS8)
	}
	for _, d := range content.DIDs {
		clear(d.UpdatePKCS8)
		clear(d.RecoverPKCS8)
	}
	h := archiveHeader{KDF: "argon2id", Params: s.opt.BackupParams, Salt: make([]byte, 16), Nonce: make([]byte, 12),
		Created: s.now().UTC().Truncate(time.Second)}
	rand.Read(h.Salt)
	rand.Read(h.Nonce)
	hj, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	prefix := ArchivePrefix + base64.RawURLEncoding.EncodeToString(hj)
	var aead cipher.AEAD
	if err := s.withBackupSlot(ctx, func() { aead, err = archiveAEAD(passphrase, h) }); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	ct := aead.Seal(nil, h.Nonce, plain, []byte(prefix))
	if err := s.addHistory(ctx, a, historyRecord{Event: EventExported}); err != nil {
		return nil, err
	}
	return &Archive{Archive: prefix + "." + base64.RawURLEncoding.EncodeToString(ct),
		Keys: len(content.Keys), Credentials: len(content.Credentials)}, nil
}

func archiveAEAD(passphrase string, h archiveHeader) (cipher.AEAD, error) {
	k := argon2.IDKey([]byte(passphrase), h.Salt, h.Params.Time, h.Params.Memory, h.Params.Threads, 32)
	defer clear(k)
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// parsedArchive is an archive split into its parts, not yet decrypted.
type parsedArchive struct {
	header     archiveHeader
	ad         []byte // the prefix and encoded header
	ciphertext []byte
}

// parseArchive splits and checks an archive's structure and header; the
// KDF parameters must lie within bounds the server accepts.
func parseArchive(s string) (*parsedArchive, error) {
	if len(s) > MaxArchive {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrMalformedArchive, MaxArchive)
	}
	rest, ok := strings.CutPrefix(s, ArchivePrefix)
	if !ok {
		return nil, fmt.Errorf("%w: not a medid wallet backup (version 1)", ErrMalformedArchive)
	}
	hb64, cb64, ok := strings.Cut(rest, ".")
	if !ok {
		return nil, fmt.Errorf("%w: missing ciphertext", ErrMalformedArchive)
	}
	hj, err := base64.RawURLEncoding.Strict().DecodeString(hb64)
	if err != nil || len(hj) > 4<<10 {
		return nil, fmt.Errorf("%w: header is not base64url", ErrMalformedArchive)
	}
	ct, err := base64.RawURLEncoding.Strict().DecodeString(cb64)
	if err != nil {
		return nil, fmt.Errorf("%w: ciphertext is not base64url", ErrMalformedArchive)
	}
	var h archiveHeader
	if err := json.Unmarshal(hj, &h); err != nil {
		return nil, fmt.Errorf("%w: header is not JSON", ErrMalformedArchive)
	}
	if h.KDF != "argon2id" || len(h.Salt) < 16 || len(h.Salt) > 64 || len(h.Nonce) != 12 {
		return nil, fmt.Errorf("%w: unsupported key derivation", ErrMalformedArchive)
	}
	if err := h.Params.check(Argon2Params{Time: 1, Memory: 8, Threads: 1}); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedArchive, err)
	}
	if len(ct) < 16 {
		return nil, fmt.Errorf("%w: ciphertext too short", ErrMalformedArchive)
	}
	return &parsedArchive{header: h, ad: []byte(ArchivePrefix + hb64), ciphertext: ct}, nil
}

// ImportRequest is POST /wallet/import: an archive, its passphrase, and the
// new account to restore it into.
type ImportRequest struct {
	Archive    string `json:"archive"`
	Passphrase string `json:"passphrase"`
	Username   string `json:"username"`
	Password   string `json:"password"`
}

// Imported is the result of an import.
type Imported struct {
	Account     AccountInfo `json:"account"`
	Keys        int         `json:"keys"`
	Credentials int         `json:"credentials"`
}

// AccountInfo names an account.
type AccountInfo struct {
	ID       string `json:"id"`
	Username string `json:"username"`
}

// Import restores an archive into a new account. The archive is opened
// and checked completely before anything is written: a wrong passphrase
// (ErrWrongPassphrase) or a malformed archive writes nothing, and a
// failure while writing removes the half-made account.
func (s *Service) Import(ctx context.Context, req ImportRequest) (*Imported, error) {
	if req.Archive == "" {
		return nil, fieldErr("archive", "required")
	}
	if err := checkPassphrase(req.Passphrase); err != nil {
		return nil, err
	}
	username, err := normalizeUsername(req.Username)
	if err != nil {
		return nil, err
	}
	if err := checkPassword("password", req.Password); err != nil {
		return nil, err
	}
	pa, err := parseArchive(req.Archive)
	if err != nil {
		return nil, err
	}
	var plain []byte
	var openErr error
	if err := s.withBackupSlot(ctx, func() {
		aead, err := archiveAEAD(req.Passphrase, pa.header)
		if err != nil {
			openErr = err
			return
		}
		plain, openErr = aead.Open(nil, pa.header.Nonce, pa.ciphertext, pa.ad)
	}); err != nil {
		return nil, err
	}
	if openErr != nil {
		return nil, ErrWrongPassphrase
	}
	defer clear(plain)
	var content archiveContent
	if err := json.Unmarshal(plain, &content); err != nil || content.V != 1 {
		return nil, fmt.Errorf("%w: unreadable content", ErrMalformedArchive)
	}
	privs := make([]*keys.PrivateKey, len(content.Keys))
	for i, k := range content.Keys {
		if privs[i], err = keys.ParsePKCS8(k.PKCS8); err != nil || privs[i].Algorithm() != k.Alg {
			return nil, fmt.Errorf("%w: key %d is not a valid private key", ErrMalformedArchive, i)
		}
	}
	seen := map[string]bool{}
	for i, c := range content.Credentials {
		id := c.Summary.ID
		if id == "" || len(id) > 64 || strings.ContainsAny(id, "/") || seen[id] {
			return nil, fmt.Errorf("%w: credential %d has a bad or repeated id", ErrMalformedArchive, i)
		}
		seen[id] = true
		for j, cp := range c.Copies {
			if len(cp.PKCS8) > 0 {
				if _, err := keys.ParsePKCS8(cp.PKCS8); err != nil {
					return nil, fmt.Errorf("%w: credential %d copy %d has an invalid key", ErrMalformedArchive, i, j)
				}
			}
		}
	}
	updateKeys := make([]string, len(content.DIDs))
	for i, d := range content.DIDs {
		uk, err := keys.ParsePKCS8(d.UpdatePKCS8)
		if err != nil {
			return nil, fmt.Errorf("%w: DID %d has an invalid update key", ErrMalformedArchive, i)
		}
		if _, err := keys.ParsePKCS8(d.RecoverPKCS8); err != nil {
			return nil, fmt.Errorf("%w: DID %d has an invalid recovery key", ErrMalformedArchive, i)
		}
		updateKeys[i] = uk.Thumbprint()
	}
	acct, err := s.newAccount(ctx, Credentials{Username: username, Password: req.Password})
	if err != nil {
		return nil, err
	}
	if err := s.restore(ctx, *acct, content, privs, updateKeys); err != nil {
		s.deleteAccount(ctx, acct)
		return nil, err
	}
	return &Imported{Account: AccountInfo{ID: acct.ID, Username: acct.Username}, Keys: len(privs),
		Credentials: len(content.Credentials)}, nil
}

func (s *Service) restore(ctx context.Context, a Account, c archiveContent, privs []*keys.PrivateKey, updateKeys []string) error {
	for i, k := range privs {
		if _, err := s.putKey(ctx, a, k, c.Keys[i].Created); err != nil && !errors.Is(err, kv.ErrConflict) {
			return err
		}
	}
	v, err := s.vault(a)
	if err != nil {
		return err
	}
	for i := range c.Credentials {
		if err := s.putCredential(ctx, v, a.ID, &c.Credentials[i]); err != nil {
			return err
		}
	}
	for i, d := range c.DIDs {
		k := dataKey(a.ID, "did", updateKeys[i])
		sealed, err := v.seal(k, d)
		if err != nil {
			return err
		}
		if err := s.store.Put(ctx, k, sealed, 0); err != nil {
			return err
		}
	}
	for _, h := range c.History {
		if err := s.addHistory(ctx, a, h); err != nil {
			return err
		}
	}
	return s.addHistory(ctx, a, historyRecord{Event: EventImported})
}
