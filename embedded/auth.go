package embedded

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"time"

	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/rpc/encryption"
)

// APIKeyPrincipal is the subject and auth type a request authenticated with
// one of the configured API keys acts as.
const APIKeyPrincipal = "chaptask-api-key"

// bearerPrefix starts the authorization header the temporal CLI's --api-key
// and the SDK's API key credentials send.
const bearerPrefix = "Bearer "

// errBadKey is what the claim mapper answers for a header that is no key;
// the server turns it into PermissionDenied without the detail.
var errBadKey = errors.New("invalid API key")

// keyClaimMapper grants system admin to a request that carries one of the
// API keys as "authorization: Bearer <key>". A request without the header
// gets no claims at all, which the default authorizer denies (health checks
// aside).
type keyClaimMapper struct {
	digests [][sha256.Size]byte
}

func newKeyClaimMapper(keys []string) *keyClaimMapper {
	m := &keyClaimMapper{digests: make([][sha256.Size]byte, len(keys))}
	for i, k := range keys {
		m.digests[i] = sha256.Sum256([]byte(k))
	}
	return m
}

// GetClaims maps the bearer token of info to claims (authorization.ClaimMapper).
func (m *keyClaimMapper) GetClaims(info *authorization.AuthInfo) (*authorization.Claims, error) {
	token, ok := strings.CutPrefix(info.AuthToken, bearerPrefix)
	if !ok || token == "" || !m.valid(token) {
		return nil, errBadKey
	}
	return &authorization.Claims{
		Subject:  APIKeyPrincipal,
		AuthType: APIKeyPrincipal,
		System:   authorization.RoleAdmin,
	}, nil
}

// valid compares the token with every key in constant time, as the HTTP
// API does.
func (m *keyClaimMapper) valid(token string) bool {
	got := sha256.Sum256([]byte(token))
	match := 0
	for i := range m.digests {
		match |= subtle.ConstantTimeCompare(got[:], m.digests[i][:])
	}
	return match == 1
}

// internodeServerName is the name the internode certificate is issued to
// and checked against; services dial each other by IP.
const internodeServerName = "chaptask-internode"

// internodeTLS is the TLS of the server's own connections when API keys are
// set: history, matching, the worker service and the internal frontend
// accept only clients presenting the certificate made at start, which never
// leaves this process's memory. Without it those loopback ports, which take
// requests without any authorization check, would be a side door around the
// keys. The public frontend stays plain TCP (the keys guard it).
type internodeTLS struct {
	server, client *tls.Config
}

var _ encryption.TLSConfigProvider = (*internodeTLS)(nil)

// newInternodeTLS makes a fresh CA and one certificate it signs, valid for
// a year from now (the server is restarted long before; each start makes new ones).
func newInternodeTLS() (*internodeTLS, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("internode CA key: %w", err)
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "chaptask internode CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("internode CA: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("internode CA: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("internode key: %w", err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: internodeServerName},
		DNSNames:     []string{internodeServerName},
		IPAddresses:  []net.IP{net.ParseIP(localIP)},
		NotBefore:    ca.NotBefore,
		NotAfter:     ca.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("internode certificate: %w", err)
	}
	cert := tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: key}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return &internodeTLS{
		server: &tls.Config{
			Certificates: []tls.Certificate{cert},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    pool,
			MinVersion:   tls.VersionTLS13,
		},
		client: &tls.Config{
			Certificates: []tls.Certificate{cert},
			RootCAs:      pool,
			ServerName:   internodeServerName,
			MinVersion:   tls.VersionTLS13,
		},
	}, nil
}

// GetInternodeServerConfig is the TLS of history, matching, worker and the
// internal frontend.
func (t *internodeTLS) GetInternodeServerConfig() (*tls.Config, error) { return t.server, nil }

// GetInternodeClientConfig is the TLS of calls between the services,
// including the system worker's calls to the internal frontend.
func (t *internodeTLS) GetInternodeClientConfig() (*tls.Config, error) { return t.client, nil }

// GetFrontendServerConfig is nil: the public frontend speaks plain gRPC and
// checks API keys.
func (t *internodeTLS) GetFrontendServerConfig() (*tls.Config, error) { return nil, nil }

// GetFrontendClientConfig is nil, as the public frontend is plain.
func (t *internodeTLS) GetFrontendClientConfig() (*tls.Config, error) { return nil, nil }

// GetRemoteClusterClientConfig is nil: there is one cluster.
func (t *internodeTLS) GetRemoteClusterClientConfig(string) (*tls.Config, error) { return nil, nil }

// GetExpiringCerts reports nothing: the certificates outlive any run.
func (t *internodeTLS) GetExpiringCerts(time.Duration) (encryption.CertExpirationMap, encryption.CertExpirationMap, error) {
	return nil, nil, nil
}

// authOptions are the server settings that make the frontend require an
// API key: the key claim mapper with the default authorizer (system admin
// may call everything; no claims may call health checks only), internode
// mutual TLS, and an internal frontend for the server's own workers, whose
// calls carry no key and are marked as the server's by its claim mapper.
type authOptions struct {
	claims   authorization.ClaimMapper
	authz    authorization.Authorizer
	tls      encryption.TLSConfigProvider
	internal bool
}

func newAuthOptions(keys []string) (authOptions, error) {
	if len(keys) == 0 {
		return authOptions{
			claims: authorization.NewNoopClaimMapper(),
			authz:  authorization.NewNoopAuthorizer(),
		}, nil
	}
	for _, k := range keys {
		if k == "" {
			return authOptions{}, errors.New("API keys must not be empty")
		}
	}
	tlsCfg, err := newInternodeTLS()
	if err != nil {
		return authOptions{}, err
	}
	return authOptions{
		claims:   newKeyClaimMapper(keys),
		authz:    authorization.NewDefaultAuthorizer(),
		tls:      tlsCfg,
		internal: true,
	}, nil
}

// claimMapperFunc adapts a fixed mapper to temporal.WithClaimMapper.
func (a authOptions) claimMapperFunc() func(*config.Config) authorization.ClaimMapper {
	return func(*config.Config) authorization.ClaimMapper { return a.claims }
}
