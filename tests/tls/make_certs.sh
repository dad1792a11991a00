#!/bin/sh
# make_certs.sh DIR: throwaway certificates for the TLS tests (C++ and Python), made with the
# openssl CLI into DIR:
#   ca.pem           a test CA
#   server.pem/.key  the redis-server's certificate, signed by ca.pem, for DNS:localhost only
#                    (so 127.0.0.1 without sni=localhost is a name mismatch)
#   client.pem/.key  a client certificate signed by ca.pem (for cert=/key=)
#   other-ca.pem     an unrelated CA (verification against it must fail)
#   cn-only.pem/.key a server certificate signed by ca.pem with CN=localhost and no
#                    subjectAltName (must be refused: names are checked in the SAN only)
# EC keys, valid for two days: they live as long as one test run.
set -eu
dir=$1
mkdir -p "$dir"
cd "$dir"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$1" 2>/dev/null; }
ca() {  # ca NAME CN
    key "$1.key"
    openssl req -x509 -new -key "$1.key" -days 2 -subj "/CN=$2" -out "$1.pem"
}
leaf() {  # leaf NAME CN EXTENSIONS
    key "$1.key"
    openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr"
    printf '%s\n' "$3" >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
        -extfile "$1.ext" -out "$1.pem" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
}
ca ca "game_data test CA"
ca other-ca "another CA"
leaf server localhost "subjectAltName=DNS:localhost
extendedKeyUsage=serverAuth"
leaf client game-server "extendedKeyUsage=clientAuth"
leaf cn-only localhost "extendedKeyUsage=serverAuth"
