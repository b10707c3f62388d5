package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/medid/medid/internal/kv"
)

// Index keys. The index is derived from the log and can be rebuilt from it.
const (
	keyPrefix    = "reg/"
	statePrefix  = keyPrefix + "s/"
	verPrefix    = keyPrefix + "v/"
	cursorKey    = keyPrefix + "cursor"
	jobPrefix    = "regjob/" // pending client-managed operations: not derived, survives rebuild
	versionWidth = 10
)

// stateRecord is State's persistence form.
type stateRecord struct {
	Version            int             `json:"version"`
	OpHash             string          `json:"opHash"`
	UpdateKey          json.RawMessage `json:"updateKey,omitempty"`
	RecoveryCommitment string          `json:"recoveryCommitment,omitempty"`
	Deactivated        bool            `json:"deactivated,omitempty"`
	Created            time.Time       `json:"created"`
	Updated            time.Time       `json:"updated"`
	LastIndex          uint64          `json:"lastIndex"`
}

// versionRecord is Version's persistence form.
type versionRecord struct {
	Index    uint64          `json:"index"`
	Time     time.Time       `json:"time"`
	OpHash   string          `json:"opHash"`
	Type     OpType          `json:"type"`
	Document json.RawMessage `json:"document,omitempty"`
	Entry    []byte          `json:"entry"`
}

type index struct {
	kv kv.Store
	// written, if set, is told of every version key commit writes.
	written func(key string)
}

func versionKey(d string, v int) string {
	return fmt.Sprintf("%s%s/%0*d", verPrefix, d, versionWidth, v)
}

func (x index) state(ctx context.Context, d string) (*State, []byte, error) {
	raw, err := x.kv.Get(ctx, statePrefix+d)
	if err != nil {
		return nil, nil, err
	}
	var r stateRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, nil, fmt.Errorf("registry index: state of %s: %w", d, err)
	}
	return &State{DID: d, Version: r.Version, OpHash: r.OpHash, UpdateKey: r.UpdateKey,
		RecoveryCommitment: r.RecoveryCommitment, Deactivated: r.Deactivated,
		Created: r.Created, Updated: r.Updated, LastIndex: r.LastIndex}, raw, nil
}

func (x index) version(ctx context.Context, d string, v int) (*Version, error) {
	raw, err := x.kv.Get(ctx, versionKey(d, v))
	if err != nil {
		return nil, err
	}
	return decodeVersion(raw, v)
}

func decodeVersion(raw []byte, v int) (*Version, error) {
	var r versionRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("registry index: version %d: %w", v, err)
	}
	return &Version{Version: v, Index: r.Index, Time: r.Time, OpHash: r.OpHash, Type: r.Type, Document: r.Document, Entry: r.Entry}, nil
}

// versionAt returns the last version whose time is not after t, among the
// versions up to max (the state's: a higher record is an orphan of a
// commit that failed, and is ignored).
func (x index) versionAt(ctx context.Context, d string, t time.Time, max int) (*Version, error) {
	var found *Version
	errStop := errors.New("stop")
	err := x.kv.List(ctx, verPrefix+d+"/", func(key string, value []byte) error {
		n, err := strconv.Atoi(key[strings.LastIndexByte(key, '/')+1:])
		if err != nil {
			return fmt.Errorf("registry index: bad version key %q", key)
		}
		if n > max {
			return errStop
		}
		v, err := decodeVersion(value, n)
		if err != nil {
			return err
		}
		if v.Time.After(t) {
			return errStop
		}
		found = v
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, err
	}
	if found == nil {
		return nil, kv.ErrNotFound
	}
	return found, nil
}

// commit writes a version then swaps the state record. The version is
// written first: a crash between the two leaves a version the state does
// not yet count, which replay rewrites identically.
func (x index) commit(ctx context.Context, st *State, v *Version, oldRaw []byte) error {
	vr, err := json.Marshal(versionRecord{Index: v.Index, Time: v.Time, OpHash: v.OpHash, Type: v.Type, Document: v.Document, Entry: v.Entry})
	if err != nil {
		return err
	}
	key := versionKey(st.DID, v.Version)
	if x.written != nil {
		x.written(key)
	}
	if err := x.kv.Put(ctx, key, vr, 0); err != nil {
		return err
	}
	sr, err := json.Marshal(stateRecord{Version: st.Version, OpHash: st.OpHash, UpdateKey: st.UpdateKey,
		RecoveryCommitment: st.RecoveryCommitment, Deactivated: st.Deactivated,
		Created: st.Created, Updated: st.Updated, LastIndex: st.LastIndex})
	if err != nil {
		return err
	}
	return x.kv.CompareAndSwap(ctx, statePrefix+st.DID, oldRaw, sr, 0)
}

func (x index) cursor(ctx context.Context) (uint64, error) {
	raw, err := x.kv.Get(ctx, cursorKey)
	if errors.Is(err, kv.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(string(raw), 10, 64)
}

func (x index) setCursor(ctx context.Context, n uint64) error {
	return x.kv.Put(ctx, cursorKey, []byte(strconv.FormatUint(n, 10)), 0)
}

// clear removes every derived index key (not pending jobs).
func (x index) clear(ctx context.Context) error {
	var keys []string
	if err := x.kv.List(ctx, keyPrefix, func(k string, _ []byte) error {
		keys = append(keys, k)
		return nil
	}); err != nil {
		return err
	}
	for _, k := range keys {
		if err := x.kv.Delete(ctx, k); err != nil {
			return err
		}
	}
	return nil
}
