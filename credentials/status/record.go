package status

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"time"

	"github.com/medid/medid/credentials/status/bitstring"
	"github.com/medid/medid/credentials/status/tokenlist"
)

// Storage layout, all under keyPrefix:
//
//	status/current/<purpose>          currentRecord: the list Allocate fills
//	status/list/<list id>             listRecord: the encoded list and its version
//	status/alloc/<list id>/<page>     page: format byte + 1024-bit used-index bitmap
const keyPrefix = "status/"

func currentKey(p Purpose) string { return keyPrefix + "current/" + string(p) }
func listKey(id string) string    { return keyPrefix + "list/" + id }
func pageKey(id string, page int) string {
	return fmt.Sprintf("%salloc/%s/%05d", keyPrefix, id, page)
}

// recordFormat versions the JSON records.
const recordFormat = 1

type currentRecord struct {
	V      int    `json:"v"`
	ListID string `json:"list"`
	Size   int    `json:"size"`
}

type listRecord struct {
	V       int       `json:"v"`
	Purpose Purpose   `json:"purpose"`
	Size    int       `json:"size"`
	Version uint64    `json:"version"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	// Data is the uncompressed list: status changes stay cheap, and
	// Snapshot compresses once per version.
	Data []byte `json:"data"`
}

func decodeCurrent(b []byte) (currentRecord, error) {
	var r currentRecord
	if err := json.Unmarshal(b, &r); err != nil || r.V != recordFormat || !validListID(r.ListID) || !validSize(r.Size) {
		return currentRecord{}, errors.New("status: corrupt current-list record")
	}
	return r, nil
}

func decodeList(b []byte) (listRecord, error) {
	var r listRecord
	if err := json.Unmarshal(b, &r); err != nil || r.V != recordFormat || r.Purpose.check() != nil || !validSize(r.Size) ||
		len(r.Data) != r.Size*r.Purpose.bits()/8 {
		return listRecord{}, errors.New("status: corrupt list record")
	}
	return r, nil
}

// listIDLen is the length of a list ID: 16 random bytes in hex.
const listIDLen = 32

func validListID(id string) bool {
	if len(id) != listIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func validSize(n int) bool { return n >= MinSize && n <= MaxSize && n%pageBits == 0 }

// Pages of the used-index bitmap.
const (
	pageFormat = 1
	pageBits   = 1024
	pageBytes  = pageBits / 8
	// pageLimit is the fill threshold: a page takes no entries beyond it,
	// so a list is closed at about half full.
	pageLimit = pageBits / 2
)

// page is a decoded bitmap page; bit i is bit i%8 of byte i/8.
type page [pageBytes]byte

func decodePage(b []byte) (*page, error) {
	var p page
	if b == nil {
		return &p, nil
	}
	if len(b) != 1+pageBytes || b[0] != pageFormat {
		return nil, errors.New("status: corrupt allocation page")
	}
	copy(p[:], b[1:])
	return &p, nil
}

func (p *page) encode() []byte {
	return append([]byte{pageFormat}, p[:]...)
}

func (p *page) used() int {
	n := 0
	for _, b := range p {
		n += bits.OnesCount8(b)
	}
	return n
}

func (p *page) has(i int) bool { return p[i/8]&(1<<(i%8)) != 0 }
func (p *page) set(i int)      { p[i/8] |= 1 << (i % 8) }

// freeAt returns the index of the k-th (from 0) clear bit, or -1.
func (p *page) freeAt(k int) int {
	for i := 0; i < pageBits; i++ {
		if !p.has(i) {
			if k == 0 {
				return i
			}
			k--
		}
	}
	return -1
}

// codec reads and writes one stored list.
type codec interface {
	get(i int) (uint8, error)
	set(i int, v uint8) error
	bytes() []byte
	encode() (string, error)
}

type tokenCodec struct{ l *tokenlist.List }

func (c tokenCodec) get(i int) (uint8, error) { return c.l.Get(i) }
func (c tokenCodec) set(i int, v uint8) error { return c.l.Set(i, v) }
func (c tokenCodec) bytes() []byte            { return c.l.Bytes() }
func (c tokenCodec) encode() (string, error)  { return c.l.Encode() }

type bitstringCodec struct{ l *bitstring.List }

func (c bitstringCodec) get(i int) (uint8, error) {
	v, err := c.l.Get(i)
	if v {
		return 1, err
	}
	return 0, err
}

func (c bitstringCodec) set(i int, v uint8) error { return c.l.Set(i, v != 0) }
func (c bitstringCodec) bytes() []byte            { return c.l.Bytes() }
func (c bitstringCodec) encode() (string, error)  { return c.l.Encode() }

// newData returns the bytes of an empty list for purpose p.
func newData(p Purpose, size int) []byte { return make([]byte, size*p.bits()/8) }

// open returns the list of r.
func (r listRecord) open() (codec, error) {
	if r.Purpose == TokenStatus {
		l, err := tokenlist.FromBytes(r.Purpose.bits(), r.Data)
		if err != nil {
			return nil, fmt.Errorf("status: stored list: %w", err)
		}
		return tokenCodec{l}, nil
	}
	l, err := bitstring.FromBytes(r.Data)
	if err != nil {
		return nil, fmt.Errorf("status: stored list: %w", err)
	}
	return bitstringCodec{l}, nil
}

// pageOf splits an index into its page and bit.
func pageOf(index int) (int, int) { return index / pageBits, index % pageBits }
