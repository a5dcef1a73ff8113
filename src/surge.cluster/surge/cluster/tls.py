"""Self-signed certificates for the cluster only: one CA, one certificate per web server."""

import os
import subprocess
import tempfile

CURVE = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def ensure_ca(directory):
    """The cluster's CA (directory/ca.crt, ca.key), made once. Tests trust ca.crt."""
    certificate, key = os.path.join(directory, "ca.crt"), os.path.join(directory, "ca.key")
    if not os.path.exists(certificate):
        os.makedirs(directory, exist_ok=True)
        openssl("req", "-x509", *CURVE, "-days", "3650", "-subj", "/CN=Surge cluster CA (loopback only)",
                "-keyout", key, "-out", certificate,
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        os.chmod(key, 0o600)
    return certificate, key


def ensure_server_certificate(directory, name, address):
    """directory/NAME.crt and NAME.key for ADDRESS, signed by the cluster CA, made once."""
    ca_certificate, ca_key = ensure_ca(directory)
    certificate, key = os.path.join(directory, f"{name}.crt"), os.path.join(directory, f"{name}.key")
    if not os.path.exists(certificate):
        with tempfile.TemporaryDirectory() as work:
            request, extensions = os.path.join(work, "request.csr"), os.path.join(work, "extensions.cnf")
            with open(extensions, "w") as stream:
                stream.write(f"subjectAltName = IP:{address}\nextendedKeyUsage = serverAuth\n")
            openssl("req", "-new", *CURVE, "-subj", f"/CN={address}", "-keyout", key, "-out", request)
            openssl("x509", "-req", "-in", request, "-CA", ca_certificate, "-CAkey", ca_key,
                    "-CAcreateserial", "-days", "825", "-extfile", extensions, "-out", certificate)
        os.chmod(key, 0o600)
    return certificate, key
