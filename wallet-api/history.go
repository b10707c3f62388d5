package walletapi

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// History events.
const (
	EventCredentialReceived = "credential_received"
	EventCredentialDeleted  = "credential_deleted"
	EventImported           = "wallet_imported"
	EventExported           = "wallet_exported"
)

// HistoryEntry is one event of the wallet's own history.
type HistoryEntry struct {
	Event            string    `json:"event"`
	At               time.Time `json:"at"`
	CredentialID     string    `json:"credential_id,omitempty"`
	CredentialIssuer string    `json:"credential_issuer,omitempty"`
	ConfigurationID  string    `json:"credential_configuration_id,omitempty"`
	Name             string    `json:"name,omitempty"`
	Copies           int       `json:"copies,omitempty"`
}

// historyRecord is a history entry at rest.
type historyRecord struct {
	Event            string    `json:"e"`
	At               time.Time `json:"at"`
	CredentialID     string    `json:"cid,omitempty"`
	CredentialIssuer string    `json:"ci,omitempty"`
	ConfigurationID  string    `json:"cfg,omitempty"`
	Name             string    `json:"name,omitempty"`
	Copies           int       `json:"n,omitempty"`
}

func (s *Service) addHistory(ctx context.Context, a Account, h historyRecord) error {
	v, err := s.vault(a)
	if err != nil {
		return err
	}
	if h.At.IsZero() {
		h.At = s.now().UTC()
	}
	// Keys sort by time: 20 digits of Unix nanoseconds, then a random tie
	// breaker.
	id := fmt.Sprintf("%020d-%s", h.At.UnixNano(), randomID(4))
	k := dataKey(a.ID, "hist", id)
	sealed, err := v.seal(k, h)
	if err != nil {
		return err
	}
	return s.store.Put(ctx, k, sealed, 0)
}

// History returns the account's history, newest first, at most limit
// entries (all when limit <= 0).
func (s *Service) History(ctx context.Context, a Account, limit int) ([]HistoryEntry, error) {
	recs, err := s.historyRecords(ctx, a)
	if err != nil {
		return nil, err
	}
	out := make([]HistoryEntry, 0, len(recs))
	for i := len(recs) - 1; i >= 0; i-- {
		h := recs[i]
		out = append(out, HistoryEntry{Event: h.Event, At: h.At, CredentialID: h.CredentialID,
			CredentialIssuer: h.CredentialIssuer, ConfigurationID: h.ConfigurationID, Name: h.Name, Copies: h.Copies})
		if limit > 0 && len(out) == limit {
			break
		}
	}
	return out, nil
}

func (s *Service) historyRecords(ctx context.Context, a Account) ([]historyRecord, error) {
	v, err := s.vault(a)
	if err != nil {
		return nil, err
	}
	var recs []historyRecord
	err = s.store.List(ctx, dataKey(a.ID, "hist", ""), func(k string, raw []byte) error {
		var h historyRecord
		if err := v.open(k, raw, &h); err != nil {
			return fmt.Errorf("walletapi: history %s: %w", k, err)
		}
		recs = append(recs, h)
		return nil
	})
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].At.Before(recs[j].At) })
	return recs, err
}
