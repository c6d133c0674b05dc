package sshclient

import (
	"crypto/ed25519"
	"encoding/pem"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// FuzzParseKey: whatever is pasted into private_key (or read from
// key_file), with whatever passphrase, parseKey returns a signer or an
// error, never panics, and its error never holds the passphrase.
func FuzzParseKey(f *testing.F) {
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	plain, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		f.Fatal(err)
	}
	enc, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("open-sesame"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pem.EncodeToMemory(plain), "")
	f.Add(pem.EncodeToMemory(enc), "open-sesame")
	f.Add(pem.EncodeToMemory(enc), "wrong-passphrase")
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00000000000000000000000000000000\n\nAAAA\n-----END RSA PRIVATE KEY-----\n"), "secret-pass")
	f.Add([]byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"), "x")
	f.Fuzz(func(t *testing.T, data []byte, passphrase string) {
		k, err := parseKey(data, Secret(passphrase), "private_key")
		if err == nil {
			if k == nil {
				t.Fatal("no signer and no error")
			}
			return
		}
		if len(passphrase) >= 6 && strings.Contains(err.Error(), passphrase) && !strings.Contains(string(data), passphrase) {
			t.Fatalf("error %q shows the passphrase", err)
		}
	})
}
