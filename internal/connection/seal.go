package connection

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// ErrNoKeyring: a stored connection has secrets but no keyring was given.
var ErrNoKeyring = errors.New("no secret key configured to decrypt it")

// Field names bound into the ciphertexts as additional data.
const (
	fieldPassword = "password"
	fieldExtra    = "extra"
)

// aad binds a ciphertext to its connection and field, so that one copied
// to another row or column fails authentication instead of decrypting.
func aad(connID, field string) string {
	return "sirocco/connection\x00" + connID + "\x00" + field
}

// Seal validates c and returns the record to store: password and extra
// (as a JSON object) encrypted with the keyring's current key, the other
// fields as they are. Empty secrets stay "" and need no key.
func Seal(k *Keyring, c Connection) (store.ConnectionRecord, error) {
	if err := c.Validate(); err != nil {
		return store.ConnectionRecord{}, err
	}
	r := store.ConnectionRecord{
		ConnID: c.ID, ConnType: c.Type, Description: c.Description, Host: c.Host, Port: c.Port,
		Login: c.Login, Schema: c.Schema,
	}
	if c.Password == "" && len(c.Extra) == 0 {
		return r, nil
	}
	if k == nil {
		return store.ConnectionRecord{}, fmt.Errorf("connection %s: encrypt secrets: %w", c.ID, ErrNoKeyring)
	}
	if c.Password != "" {
		r.Password = k.Encrypt([]byte(c.Password), aad(c.ID, fieldPassword))
	}
	if len(c.Extra) > 0 {
		b, err := json.Marshal(c.Extra)
		if err != nil {
			return store.ConnectionRecord{}, fmt.Errorf("connection %s: encode extra: %w", c.ID, err)
		}
		r.Extra = k.Encrypt(b, aad(c.ID, fieldExtra))
	}
	return r, nil
}

// Unseal is the inverse of Seal. Errors wrap ErrUnknownKey, ErrDecrypt or
// ErrNoKeyring and name the connection and field, never a secret.
func Unseal(k *Keyring, r store.ConnectionRecord) (Connection, error) {
	c := Connection{
		ID: r.ConnID, Type: r.ConnType, Description: r.Description, Host: r.Host, Port: r.Port,
		Login: r.Login, Schema: r.Schema,
	}
	password, err := open(k, r.ConnID, fieldPassword, r.Password)
	if err != nil {
		return Connection{}, err
	}
	c.Password = string(password)
	extra, err := open(k, r.ConnID, fieldExtra, r.Extra)
	if err != nil {
		return Connection{}, err
	}
	if c.Extra, err = decodeExtraJSON(extra); err != nil {
		return Connection{}, fmt.Errorf("connection %s: %w", r.ConnID, err)
	}
	return c, nil
}

// open decrypts one field; "" is an absent secret.
func open(k *Keyring, connID, field, token string) ([]byte, error) {
	if token == "" {
		return nil, nil
	}
	if k == nil {
		return nil, fmt.Errorf("connection %s: decrypt %s: %w", connID, field, ErrNoKeyring)
	}
	b, err := k.Decrypt(token, aad(connID, field))
	if err != nil {
		return nil, fmt.Errorf("connection %s: decrypt %s: %w", connID, field, err)
	}
	return b, nil
}
