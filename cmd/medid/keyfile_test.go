package main

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/medid/medid/did/registry"
)

func TestStageKeepsPendingKeysUntilConfirmed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	kf, _ := loadKeyFile(path)
	kf.DIDs["did:medid:x"] = &didKeys{Update: "old-u", Recovery: "old-r"}
	next := &didKeys{Update: "new-u", Recovery: "old-r"}

	// The server never confirms: the new keys are on file, as pending.
	_, err := kf.stage("did:medid:x", next, func() (*registry.RegistrationState, error) {
		return nil, errors.New("connection reset")
	})
	if err == nil {
		t.Fatal("send error lost")
	}
	onDisk, _ := loadKeyFile(path)
	got := onDisk.DIDs["did:medid:x"]
	if got.Update != "old-u" || got.Pending == nil || got.Pending.Update != "new-u" {
		t.Fatalf("after a failed send: %+v", got)
	}

	// A create confirmed under its new DID: the placeholder slot goes away.
	st := &registry.RegistrationState{DIDState: registry.DIDState{DID: "did:medid:y"}}
	if _, err := kf.stage("pending:abc", &didKeys{Update: "u", Recovery: "r"}, func() (*registry.RegistrationState, error) { return st, nil }); err != nil {
		t.Fatal(err)
	}
	onDisk, _ = loadKeyFile(path)
	if _, ok := onDisk.DIDs["pending:abc"]; ok || onDisk.DIDs["did:medid:y"].Update != "u" || onDisk.DIDs["did:medid:y"].Pending != nil {
		t.Fatalf("after a confirmed create: %+v", onDisk.DIDs)
	}
}
