package connection

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// VarEnvPrefix starts the environment variables that define variables, as
// Airflow's AIRFLOW_VAR_: SIROCCO_VAR_API_KEY defines api_key.
const VarEnvPrefix = "SIROCCO_VAR_"

// Variables is the front door to variables, as Resolver is to
// connections: reads look in the environment first (SIROCCO_VAR_<KEY>),
// then in the store, and every value is stored encrypted with Keys, so a
// database dump shows no variable in clear. The store marks sealed values
// (Encrypted); rows written before Sirocco encrypted variables are read as
// they are until SealAll seals them.
type Variables struct {
	// Store keeps the variables set by the CLI; nil means none.
	Store store.Store
	// Keys seals and opens stored values.
	Keys *Keyring
	// Environ lists the environment as KEY=VALUE (os.Environ when nil).
	Environ func() []string
}

// varAAD binds a sealed value to its variable, so a ciphertext copied to
// another row does not decrypt.
func varAAD(key string) string { return "sirocco/variable\x00" + key }

// SealVariable returns v with its value encrypted under the current key.
func SealVariable(k *Keyring, v store.Variable) (store.Variable, error) {
	if k == nil {
		return store.Variable{}, fmt.Errorf("variable %s: encrypt: %w", v.Key, ErrNoKeyring)
	}
	v.Value = k.Encrypt([]byte(v.Value), varAAD(v.Key))
	v.Encrypted = true
	return v, nil
}

// UnsealVariable returns v with its value in clear. Errors name the
// variable, never its value.
func UnsealVariable(k *Keyring, v store.Variable) (store.Variable, error) {
	if !v.Encrypted {
		return v, nil
	}
	if k == nil {
		return store.Variable{}, fmt.Errorf("variable %s: decrypt: %w", v.Key, ErrNoKeyring)
	}
	b, err := k.Decrypt(v.Value, varAAD(v.Key))
	if err != nil {
		return store.Variable{}, fmt.Errorf("variable %s: decrypt: %w", v.Key, err)
	}
	v.Value, v.Encrypted = string(b), false
	return v, nil
}

func (r *Variables) environ() []string {
	if r.Environ != nil {
		return r.Environ()
	}
	return os.Environ()
}

// fromEnv returns the value of SIROCCO_VAR_<key>, the key as given or in
// upper case (Airflow's spelling).
func (r *Variables) fromEnv(key string) (string, bool) {
	exact, upper := VarEnvPrefix+key, VarEnvPrefix+strings.ToUpper(key)
	value, found := "", false
	for _, kv := range r.environ() {
		k, v, _ := strings.Cut(kv, "=")
		if k == exact {
			return v, true
		}
		if k == upper && !found {
			value, found = v, true
		}
	}
	return value, found
}

// Get returns variable key in clear from the first source that has it;
// absent everywhere, the error wraps store.ErrNotFound.
func (r *Variables) Get(ctx context.Context, key string) (store.Variable, error) {
	if v, ok := r.fromEnv(key); ok {
		return store.Variable{Key: key, Value: v}, nil
	}
	if r.Store == nil {
		return store.Variable{}, fmt.Errorf("variable %s: %w", key, store.ErrNotFound)
	}
	v, err := r.Store.GetVariable(ctx, key)
	if err != nil {
		return store.Variable{}, err
	}
	return UnsealVariable(r.Keys, v)
}

// List returns the stored variables in clear, sorted by key.
func (r *Variables) List(ctx context.Context) ([]store.Variable, error) {
	if r.Store == nil {
		return nil, nil
	}
	vars, err := r.Store.ListVariables(ctx)
	if err != nil {
		return nil, err
	}
	for i, v := range vars {
		if vars[i], err = UnsealVariable(r.Keys, v); err != nil {
			return nil, err
		}
	}
	return vars, nil
}

// Set stores v sealed, replacing a variable of the same key.
func (r *Variables) Set(ctx context.Context, v store.Variable) error {
	if r.Store == nil {
		return fmt.Errorf("variable %s: no store to write to", v.Key)
	}
	sealed, err := SealVariable(r.Keys, v)
	if err != nil {
		return err
	}
	return r.Store.SetVariable(ctx, sealed)
}

// Secrets returns the values of the variables whose keys look sensitive
// (IsSensitive: password, token, api_key, ...), from the environment and
// the store: what a log or an API answer must mask.
func (r *Variables) Secrets(ctx context.Context) ([]string, error) {
	var out []string
	for _, kv := range r.environ() {
		k, v, _ := strings.Cut(kv, "=")
		if key, ok := strings.CutPrefix(k, VarEnvPrefix); ok && IsSensitive(key) && v != "" {
			out = append(out, v)
		}
	}
	vars, err := r.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, v := range vars {
		if IsSensitive(v.Key) && v.Value != "" {
			out = append(out, v.Value)
		}
	}
	return out, nil
}

// SealAll encrypts every stored variable still in clear and re-encrypts
// every one sealed with an old key, each by a conditional write, so a
// variable changed meanwhile is read again rather than overwritten. It is
// what `connections rotate-key` and `db migrate` run for variables;
// running it again is harmless.
func (r *Variables) SealAll(ctx context.Context) (RotateResult, error) {
	var res RotateResult
	if r.Store == nil || r.Keys == nil {
		return res, errors.New("seal variables: need a store and a keyring")
	}
	vars, err := r.Store.ListVariables(ctx)
	if err != nil {
		return res, fmt.Errorf("seal variables: %w", err)
	}
	res.Total = len(vars)
	for _, v := range vars {
		done, err := r.sealOne(ctx, v)
		if err != nil {
			return res, fmt.Errorf("seal variables: %w", err)
		}
		if done {
			res.Reencrypted++
		}
	}
	return res, nil
}

// sealOne seals one variable with the current key, reporting whether it
// wrote.
func (r *Variables) sealOne(ctx context.Context, v store.Variable) (bool, error) {
	for range rotateAttempts {
		if v.Encrypted && r.Keys.IsCurrent(v.Value) {
			return false, nil
		}
		plain, err := UnsealVariable(r.Keys, v)
		if err != nil {
			return false, err
		}
		sealed, err := SealVariable(r.Keys, plain)
		if err != nil {
			return false, err
		}
		ok, err := r.Store.ReplaceVariableValue(ctx, v, sealed.Value, true)
		if err != nil || ok {
			return ok, err
		}
		// Changed or deleted meanwhile: look again.
		v, err = r.Store.GetVariable(ctx, v.Key)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
	return false, fmt.Errorf("variable %s kept changing during rotation; run rotate-key again", v.Key)
}

// KnownSecrets returns every secret Sirocco holds that task output may
// carry: the values of sensitive variables and the secrets of every
// connection, from the environment and the store. Answers that show task
// output or rendered fields (an XCom, `tasks render`) mask them, as the
// task's log did.
func KnownSecrets(ctx context.Context, st store.Store, keys *Keyring, environ func() []string) ([]string, error) {
	out, err := (&Variables{Store: st, Keys: keys, Environ: environ}).Secrets(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the secrets to mask: %w", err)
	}
	conns, err := (&Resolver{Store: st, Keys: keys, Environ: environ}).List(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the secrets to mask: %w", err)
	}
	for _, c := range conns {
		out = append(out, c.Secrets()...)
	}
	return out, nil
}
