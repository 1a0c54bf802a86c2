package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nakachain/blockchain"
)

// TestWalletRoundTrip creates a wallet with the built program, reading the
// passphrase from a file, and reads its address back without the
// passphrase and, verified, with it from an environment variable.
func TestWalletRoundTrip(t *testing.T) {
	dir := t.TempDir()
	datadir := filepath.Join(dir, "data")
	passFile := filepath.Join(dir, "pass")
	if err := os.WriteFile(passFile, []byte("correct horse\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runBinary(t, nil, "wallet", "new", "-name", "alice", "-datadir", datadir, "-passphrase-file", passFile)
	if code != 0 {
		t.Fatalf("wallet new: status %d:\n%s", code, stderr)
	}
	addr, err := blockchain.ParseAddress(strings.TrimSpace(stdout))
	if err != nil {
		t.Fatalf("wallet new printed %q, not an address: %v", stdout, err)
	}
	keyFile := filepath.Join(datadir, "wallets", "alice.key")
	fi, err := os.Stat(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("the key file's mode is %v, want 0600", fi.Mode().Perm())
	}
	key, _ := os.ReadFile(keyFile)

	address := func(env []string, args ...string) (int, string, string) {
		t.Helper()
		return runBinary(t, env, append([]string{"wallet", "address", "-name", "alice", "-datadir", datadir}, args...)...)
	}
	// No passphrase needed: the address is read from the address file.
	if code, stdout, stderr := address(nil); code != 0 || strings.TrimSpace(stdout) != addr.String() {
		t.Errorf("wallet address: status %d, %q, want %s:\n%s", code, stdout, addr, stderr)
	}
	// Verified: decrypted with the same passphrase, from a variable.
	good := []string{"NK_TEST_PASS=correct horse"}
	if code, stdout, stderr := address(good, "-verify", "-passphrase-env", "NK_TEST_PASS"); code != 0 || strings.TrimSpace(stdout) != addr.String() {
		t.Errorf("wallet address -verify: status %d, %q, want %s:\n%s", code, stdout, addr, stderr)
	}
	bad := []string{"NK_TEST_PASS=wrong horse"}
	if code, _, stderr := address(bad, "-verify", "-passphrase-env", "NK_TEST_PASS"); code != exitFailure || !strings.Contains(stderr, "wrong passphrase") {
		t.Errorf("wallet address -verify with a wrong passphrase: status %d:\n%s", code, stderr)
	}
	if code, _, stderr := address(nil, "-verify", "-passphrase-env", "NK_TEST_UNSET"); code != exitFailure || !strings.Contains(stderr, "NK_TEST_UNSET") {
		t.Errorf("wallet address -verify with an unset variable: status %d:\n%s", code, stderr)
	}

	// No overwriting.
	code, _, stderr = runBinary(t, good, "wallet", "new", "-name", "alice", "-datadir", datadir, "-passphrase-env", "NK_TEST_PASS")
	if code != exitFailure || !strings.Contains(stderr, "exists already") {
		t.Errorf("wallet new over an existing wallet: status %d:\n%s", code, stderr)
	}
	if again, _ := os.ReadFile(keyFile); string(again) != string(key) {
		t.Error("wallet new changed an existing key file")
	}

	// A changed address file is caught by -verify; a missing one is
	// derived from the key again.
	addrFile := filepath.Join(datadir, "wallets", "alice.addr")
	other := blockchain.WalletFromSeed([32]byte{7}).Address()
	if err := os.WriteFile(addrFile, []byte(other.String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := address(good, "-verify", "-passphrase-env", "NK_TEST_PASS"); code != exitFailure || !strings.Contains(stderr, "was changed") {
		t.Errorf("wallet address -verify with a changed address file: status %d:\n%s", code, stderr)
	}
	os.Remove(addrFile)
	if code, _, stderr := address(nil); code != exitUsage || !strings.Contains(stderr, "no passphrase") {
		t.Errorf("wallet address with no address file and no passphrase: status %d:\n%s", code, stderr)
	}
	if code, stdout, stderr := address(nil, "-passphrase-file", passFile); code != 0 || strings.TrimSpace(stdout) != addr.String() {
		t.Errorf("wallet address with no address file: status %d, %q:\n%s", code, stdout, stderr)
	}
	if data, _ := os.ReadFile(addrFile); strings.TrimSpace(string(data)) != addr.String() {
		t.Errorf("the address file was not written again: %q", data)
	}

	// A node mines to the wallet given by name, opened with the passphrase.
	code, _, stderr = runBinary(t, good, "node", "-datadir", datadir, "-network", "test", "-listen", "",
		"-mine", "-miner-key", "alice", "-passphrase-env", "NK_TEST_PASS", "-for", "300ms", "-log-format", "json")
	if code != 0 || !strings.Contains(stderr, `"msg":"mining","miner":"`+addr.String()+`"`) {
		t.Errorf("node -miner-key alice: status %d:\n%s", code, stderr)
	}
	code, _, stderr = runBinary(t, bad, "node", "-datadir", datadir, "-listen", "",
		"-mine", "-miner-key", keyFile, "-passphrase-env", "NK_TEST_PASS", "-for", "300ms")
	if code != exitFailure || !strings.Contains(stderr, "wrong passphrase") {
		t.Errorf("node -miner-key FILE with a wrong passphrase: status %d:\n%s", code, stderr)
	}
}
