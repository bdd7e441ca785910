package portraitclient

import (
	"context"
	"net"

	"google.golang.org/grpc/credentials"
)

// plaintext is transport credentials without security, for a bridge reached over plaintext HTTP/2 (a mesh sidecar,
// a private network). grpc.WithInsecure is deprecated in later grpc-go, and its replacement, the credentials/insecure
// package, arrived in grpc-go 1.34: Debian 12 ships 1.33. credentials/local would refuse any address but loopback.
// This is the same few lines as credentials/insecure, so the client builds with 1.33 and needs no deprecated call.
type plaintext struct{}

func (plaintext) ClientHandshake(_ context.Context, _ string, conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return conn, plaintextInfo{credentials.CommonAuthInfo{SecurityLevel: credentials.NoSecurity}}, nil
}

func (plaintext) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return conn, plaintextInfo{credentials.CommonAuthInfo{SecurityLevel: credentials.NoSecurity}}, nil
}

func (plaintext) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "insecure"}
}

func (plaintext) Clone() credentials.TransportCredentials { return plaintext{} }

func (plaintext) OverrideServerName(string) error { return nil }

type plaintextInfo struct{ credentials.CommonAuthInfo }

func (plaintextInfo) AuthType() string { return "insecure" }
