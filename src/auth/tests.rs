use super::*;
use http::HeaderValue;

const ACCESS_KEY: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

/// A request captured from a real client, byte for byte (see the generator notes below).
struct Vector {
    name: &'static str,
    source: &'static str,
    method: &'static str,
    /// Request target as on the wire: raw path, then `?` and the raw query if any.
    target: &'static str,
    headers: &'static [(&'static str, &'static str)],
    body: &'static [u8],
    amz_date: &'static str,
    /// `amz_date` as Unix seconds (computed by the generator with Python's `calendar`).
    epoch: u64,
}

// Generated with botocore 1.44.5 / awscli 1.46.3 from a Python venv, credentials
// AKIDEXAMPLE / wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, region us-east-1, service lambda.
// "on the wire": a botocore client (endpoint_url http://127.0.0.1:9001) or the AWS CLI sent
// the request to a Python http.server on that port, which recorded the request line, every
// header in order, and the body. The same calls captured with a `before-send` handler gave
// identical targets and bodies; the wire adds `Host` and `Accept-Encoding` (set by
// http.client/urllib3, and `host` is signed from the URL). "SigV4Auth.add_auth": an
// AWSRequest signed directly, for edge cases (repeated headers, whitespace, unsorted query,
// X-Amz-Content-SHA256, another region/service), with `Host` set from the URL as on the wire.
const VECTORS: &[Vector] = &[
    Vector {
        name: "create_function",
        source: "botocore 1.44.5 client, on the wire",
        method: "POST",
        target: "/2015-03-31/functions",
        headers: &[
            ("Host", "127.0.0.1:9001"),
            ("Accept-Encoding", "identity"),
            ("Content-Type", "application/json"),
            ("User-Agent", "Botocore/1.44.5 ua/2.1 os/linux#6.18.44-fc-v669 md/arch#x86_64 lang/python#3.11.7 md/pyimpl#CPython m/E,N,Z,e,b cfg/retry-mode#standard"),
            ("X-Amz-Date", "20261124T061835Z"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/lambda/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=440aa80db7b52537a301231533959c9f0d81a1ec39bf759f7bf398263fb91489"),
            ("amz-sdk-invocation-id", "7e623cae-2d8d-40d6-a90e-ef2198aa263e"),
            ("amz-sdk-request", "attempt=1; max=3"),
            ("Content-Length", "145"),
        ],
        body: b"{\"FunctionName\": \"my-fn\", \"Runtime\": \"python3.12\", \"Role\": \"arn:aws:iam::123456789012:role/r\", \"Handler\": \"h.h\", \"Code\": {\"ZipFile\": \"UEsDBA==\"}}",
        amz_date: "20261124T061835Z",
        epoch: 1795501115,
    },
    Vector {
        name: "invoke_arn",
        source: "botocore 1.44.5 client, on the wire",
        method: "POST",
        target: "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Amy-fn/invocations?Qualifier=%24LATEST",
        headers: &[
            ("Host", "127.0.0.1:9001"),
            ("Accept-Encoding", "identity"),
            ("X-Amz-Client-Context", "eyJhIjoxfQ=="),
            ("X-Amz-Log-Type", "Tail"),
            ("User-Agent", "Botocore/1.44.5 ua/2.1 os/linux#6.18.44-fc-v669 md/arch#x86_64 lang/python#3.11.7 md/pyimpl#CPython m/E,N,Z,e,b cfg/retry-mode#standard"),
            ("X-Amz-Date", "20261124T061835Z"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-client-context;x-amz-date;x-amz-log-type, Signature=949d6a63cf02b0a5bcbf46c16bd3b711149974b41b72ef4cc2fbac5d7b703269"),
            ("amz-sdk-invocation-id", "623178cf-3835-48f9-95ad-ac9939e472fc"),
            ("amz-sdk-request", "attempt=1; max=3"),
            ("Content-Length", "7"),
        ],
        body: b"{\"k\":1}",
        amz_date: "20261124T061835Z",
        epoch: 1795501115,
    },
    Vector {
        name: "list_functions",
        source: "botocore 1.44.5 client, on the wire",
        method: "GET",
        target: "/2015-03-31/functions?MaxItems=2&Marker=b",
        headers: &[
            ("Host", "127.0.0.1:9001"),
            ("Accept-Encoding", "identity"),
            ("User-Agent", "Botocore/1.44.5 ua/2.1 os/linux#6.18.44-fc-v669 md/arch#x86_64 lang/python#3.11.7 md/pyimpl#CPython m/E,N,Z,e,b cfg/retry-mode#standard"),
            ("X-Amz-Date", "20261124T061835Z"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=4c78296c532adcd1216e42c3d9351735213c4a91f0bb32f72df4617923a07e88"),
            ("amz-sdk-invocation-id", "d7069ff6-13a6-45b9-a76d-9f4fb445a41c"),
            ("amz-sdk-request", "attempt=1; max=3"),
        ],
        body: b"",
        amz_date: "20261124T061835Z",
        epoch: 1795501115,
    },
    Vector {
        name: "delete_function",
        source: "botocore 1.44.5 client, on the wire",
        method: "DELETE",
        target: "/2015-03-31/functions/my-fn",
        headers: &[
            ("Host", "127.0.0.1:9001"),
            ("Accept-Encoding", "identity"),
            ("User-Agent", "Botocore/1.44.5 ua/2.1 os/linux#6.18.44-fc-v669 md/arch#x86_64 lang/python#3.11.7 md/pyimpl#CPython m/E,N,Z,e,b cfg/retry-mode#standard"),
            ("X-Amz-Date", "20261124T061835Z"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=bb7021217b5a913581e72867b5c7eb2938ae84e316dc3d13fcc675bd36e005b8"),
            ("amz-sdk-invocation-id", "cb0e0fe7-21f7-4c2c-a7b4-fde187fc5940"),
            ("amz-sdk-request", "attempt=1; max=3"),
            ("Content-Length", "0"),
        ],
        body: b"",
        amz_date: "20261124T061835Z",
        epoch: 1795501115,
    },
    Vector {
        name: "get_function_qualified",
        source: "botocore 1.44.5 client, on the wire",
        method: "GET",
        target: "/2015-03-31/functions/my-fn%3A%24LATEST",
        headers: &[
            ("Host", "127.0.0.1:9001"),
            ("Accept-Encoding", "identity"),
            ("User-Agent", "Botocore/1.44.5 ua/2.1 os/linux#6.18.44-fc-v669 md/arch#x86_64 lang/python#3.11.7 md/pyimpl#CPython m/E,N,Z,e,b cfg/retry-mode#standard"),
            ("X-Amz-Date", "20261124T061835Z"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=5ee39decc30f7d91adfe15ead4a6972da0d9668c8d9cc6b049af83fbcb04835c"),
            ("amz-sdk-invocation-id", "ac0e2022-5141-4c40-8a3a-17e59c30313a"),
            ("amz-sdk-request", "attempt=1; max=3"),
        ],
        body: b"",
        amz_date: "20261124T061835Z",
        epoch: 1795501115,
    },
    Vector {
        name: "list_functions_odd_marker",
        source: "botocore 1.44.5 client, on the wire",
        method: "GET",
        target: "/2015-03-31/functions?MaxItems=5&Marker=abc%3D%2F%2B%20%C3%A9~%2A%27%28%29%21",
        headers: &[
            ("Host", "127.0.0.1:9001"),
            ("Accept-Encoding", "identity"),
            ("User-Agent", "Botocore/1.44.5 ua/2.1 os/linux#6.18.44-fc-v669 md/arch#x86_64 lang/python#3.11.7 md/pyimpl#CPython m/E,N,Z,e,b cfg/retry-mode#standard"),
            ("X-Amz-Date", "20261124T061835Z"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=5c23690f396fa2ccabbb306e12d4b507d530c622a961e571d1adb043dddb7bc1"),
            ("amz-sdk-invocation-id", "dda5152b-6731-4ab2-8489-ba09bd5db258"),
            ("amz-sdk-request", "attempt=1; max=3"),
        ],
        body: b"",
        amz_date: "20261124T061835Z",
        epoch: 1795501115,
    },
    Vector {
        name: "tag_resource",
        source: "botocore 1.44.5 client, on the wire",
        method: "POST",
        target: "/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Amy-fn",
        headers: &[
            ("Host", "127.0.0.1:9001"),
            ("Accept-Encoding", "identity"),
            ("Content-Type", "application/json"),
            ("User-Agent", "Botocore/1.44.5 ua/2.1 os/linux#6.18.44-fc-v669 md/arch#x86_64 lang/python#3.11.7 md/pyimpl#CPython m/E,N,Z,e,b cfg/retry-mode#standard"),
            ("X-Amz-Date", "20261124T061836Z"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/lambda/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=341488624a9fda6255ee9036183ca88c50eba5b8bc1ee94e50f1e7f5e9f4b3ae"),
            ("amz-sdk-invocation-id", "610c7057-ad7a-4b82-9380-91979c49aa92"),
            ("amz-sdk-request", "attempt=1; max=3"),
            ("Content-Length", "66"),
        ],
        body: b"{\"Tags\": {\"team\": \"a b\", \"k:x\": \"v/1\", \"\\u00fcn\\u00ef\": \"\\u00e7\"}}",
        amz_date: "20261124T061836Z",
        epoch: 1795501116,
    },
    Vector {
        name: "untag_resource",
        source: "botocore 1.44.5 client, on the wire",
        method: "DELETE",
        target: "/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Amy-fn?tagKeys=team&tagKeys=k%3Ax&tagKeys=a%20b&tagKeys=%C3%BCn%C3%AF",
        headers: &[
            ("Host", "127.0.0.1:9001"),
            ("Accept-Encoding", "identity"),
            ("User-Agent", "Botocore/1.44.5 ua/2.1 os/linux#6.18.44-fc-v669 md/arch#x86_64 lang/python#3.11.7 md/pyimpl#CPython m/E,N,Z,e,b cfg/retry-mode#standard"),
            ("X-Amz-Date", "20261124T061836Z"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=d7d01cdcfc89cef4e93517b67836a7c2fe54f099cf5615f9bfdb389733488186"),
            ("amz-sdk-invocation-id", "7f44a2ac-aa4a-4117-b772-fd17899e926c"),
            ("amz-sdk-request", "attempt=1; max=3"),
            ("Content-Length", "0"),
        ],
        body: b"",
        amz_date: "20261124T061836Z",
        epoch: 1795501116,
    },
    Vector {
        name: "invoke_event_alias",
        source: "botocore 1.44.5 client, on the wire",
        method: "POST",
        target: "/2015-03-31/functions/my-fn%3Aprod/invocations",
        headers: &[
            ("Host", "127.0.0.1:9001"),
            ("Accept-Encoding", "identity"),
            ("X-Amz-Invocation-Type", "Event"),
            ("User-Agent", "Botocore/1.44.5 ua/2.1 os/linux#6.18.44-fc-v669 md/arch#x86_64 lang/python#3.11.7 md/pyimpl#CPython m/E,N,Z,e,b cfg/retry-mode#standard"),
            ("X-Amz-Date", "20261124T061836Z"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date;x-amz-invocation-type, Signature=6d38b7a8c48a0a66605828149c853b06254dd3405ab03383d866f03dae3481cf"),
            ("amz-sdk-invocation-id", "8ea2b683-a19f-4123-888a-5fe1019291c8"),
            ("amz-sdk-request", "attempt=1; max=3"),
            ("Content-Length", "11"),
        ],
        body: b"  spaced  \n",
        amz_date: "20261124T061836Z",
        epoch: 1795501116,
    },
    Vector {
        name: "put_provisioned",
        source: "botocore 1.44.5 client, on the wire",
        method: "PUT",
        target: "/2019-09-30/functions/my-fn/provisioned-concurrency?Qualifier=prod",
        headers: &[
            ("Host", "127.0.0.1:9001"),
            ("Accept-Encoding", "identity"),
            ("Content-Type", "application/json"),
            ("User-Agent", "Botocore/1.44.5 ua/2.1 os/linux#6.18.44-fc-v669 md/arch#x86_64 lang/python#3.11.7 md/pyimpl#CPython m/E,N,Z,e,b cfg/retry-mode#standard"),
            ("X-Amz-Date", "20261124T061836Z"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/lambda/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=4f16fa93db95a5c83ade3f22967459c158695369fb610633e4a98f3fc9b05dcc"),
            ("amz-sdk-invocation-id", "80998faf-9a5f-4e9d-a336-2d9b840e45a8"),
            ("amz-sdk-request", "attempt=1; max=3"),
            ("Content-Length", "38"),
        ],
        body: b"{\"ProvisionedConcurrentExecutions\": 2}",
        amz_date: "20261124T061836Z",
        epoch: 1795501116,
    },
    Vector {
        name: "list_versions_empty_marker",
        source: "botocore 1.44.5 client, on the wire",
        method: "GET",
        target: "/2015-03-31/functions/my-fn/versions?Marker=",
        headers: &[
            ("Host", "127.0.0.1:9001"),
            ("Accept-Encoding", "identity"),
            ("User-Agent", "Botocore/1.44.5 ua/2.1 os/linux#6.18.44-fc-v669 md/arch#x86_64 lang/python#3.11.7 md/pyimpl#CPython m/E,N,Z,e,b cfg/retry-mode#standard"),
            ("X-Amz-Date", "20261124T061836Z"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=ac30e2b35d7c9b7488e1bde378c26c0f171782b81c04140262d4824add6a2dfd"),
            ("amz-sdk-invocation-id", "0ed87186-0cd1-4710-964e-6744ad83fe1d"),
            ("amz-sdk-request", "attempt=1; max=3"),
        ],
        body: b"",
        amz_date: "20261124T061836Z",
        epoch: 1795501116,
    },
    Vector {
        name: "list_functions_session_token",
        source: "botocore 1.44.5 client, on the wire",
        method: "GET",
        target: "/2015-03-31/functions?MaxItems=2&Marker=b",
        headers: &[
            ("Host", "127.0.0.1:9001"),
            ("Accept-Encoding", "identity"),
            ("User-Agent", "Botocore/1.44.5 ua/2.1 os/linux#6.18.44-fc-v669 md/arch#x86_64 lang/python#3.11.7 md/pyimpl#CPython m/E,N,Z,e,b cfg/retry-mode#standard"),
            ("X-Amz-Date", "20261124T061836Z"),
            ("X-Amz-Security-Token", "FQoGZXIvYXdzEXAMPLETOKEN"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=da02c895a0cc70faf1a4074ac14412040c0060eca74a6ce9d1590d3d1a205789"),
            ("amz-sdk-invocation-id", "5da332c3-c429-4326-b103-46ed975256a1"),
            ("amz-sdk-request", "attempt=1; max=3"),
        ],
        body: b"",
        amz_date: "20261124T061836Z",
        epoch: 1795501116,
    },
    Vector {
        name: "cli_get_function",
        source: "aws-cli 1.46.3 (botocore 1.43.62), on the wire",
        method: "GET",
        target: "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Amy-fn?Qualifier=7",
        headers: &[
            ("Host", "127.0.0.1:9001"),
            ("Accept-Encoding", "identity"),
            ("User-Agent", "aws-cli/1.46.3 md/Botocore#1.43.62 ua/2.1 os/linux#6.18.44-fc-v669 md/arch#x86_64 lang/python#3.11.7 md/pyimpl#CPython m/Z,N,b,g,D cfg/retry-mode#legacy botocore/1.43.62"),
            ("X-Amz-Date", "20261124T061836Z"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=b3c8f2aa6859dd9978f0b9ce47cc10b122384ddde3ceede54d9f0688307888b8"),
            ("amz-sdk-invocation-id", "2120e45a-4f88-4c50-92c4-003cd48e0454"),
            ("amz-sdk-request", "attempt=1"),
        ],
        body: b"",
        amz_date: "20261124T061836Z",
        epoch: 1795501116,
    },
    Vector {
        name: "cli_invoke",
        source: "aws-cli 1.46.3 (botocore 1.43.62), on the wire",
        method: "POST",
        target: "/2015-03-31/functions/my-fn/invocations",
        headers: &[
            ("Host", "127.0.0.1:9001"),
            ("Accept-Encoding", "identity"),
            ("User-Agent", "aws-cli/1.46.3 md/Botocore#1.43.62 ua/2.1 os/linux#6.18.44-fc-v669 md/arch#x86_64 lang/python#3.11.7 md/pyimpl#CPython m/D,b,Z,N,g cfg/retry-mode#legacy botocore/1.43.62"),
            ("X-Amz-Date", "20261124T061837Z"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=d2749731da024a15d422e10a66c6ac26d6dd73c09792b33c0e88410ff96468a1"),
            ("amz-sdk-invocation-id", "758e06a8-d686-486c-be04-458200112830"),
            ("amz-sdk-request", "attempt=1"),
            ("Content-Length", "12"),
        ],
        body: b"{\"x\": \"y z\"}",
        amz_date: "20261124T061837Z",
        epoch: 1795501117,
    },
    Vector {
        name: "syn_query_sorting",
        source: "botocore 1.44.5 SigV4Auth.add_auth",
        method: "GET",
        target: "/2015-03-31/functions/my-fn/aliases?Marker=z&FunctionVersion=%24LATEST&Marker=a&flag",
        headers: &[
            ("Host", "localhost:9001"),
            ("X-Amz-Date", "20261124T062015Z"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=975ba2116466bfc6c9d8e477aafa0e99b46dc37be42785cbb26a43542ebe826f"),
        ],
        body: b"",
        amz_date: "20261124T062015Z",
        epoch: 1795501215,
    },
    Vector {
        name: "syn_header_whitespace",
        source: "botocore 1.44.5 SigV4Auth.add_auth",
        method: "POST",
        target: "/2015-03-31/functions/my-fn/invocations",
        headers: &[
            ("Host", "localhost:9001"),
            ("X-Amz-Client-Context", "  a   b \t c  "),
            ("X-Amz-Multi", "one"),
            ("X-Amz-Multi", " two  three "),
            ("Content-Type", "application/json"),
            ("X-Amz-Date", "20261124T062015Z"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/lambda/aws4_request, SignedHeaders=content-type;host;x-amz-client-context;x-amz-date;x-amz-multi, Signature=384a6e8ac2432f1e7ee5dc4e439e279ab197119097104ddde92b2afcf3b5b1e8"),
        ],
        body: b"{\"msg\":\"h\xc3\xa9llo\"}",
        amz_date: "20261124T062015Z",
        epoch: 1795501215,
    },
    Vector {
        name: "syn_content_sha256_header",
        source: "botocore 1.44.5 SigV4Auth.add_auth",
        method: "PUT",
        target: "/2017-10-31/functions/my-fn/concurrency",
        headers: &[
            ("Host", "localhost:9001"),
            ("X-Amz-Content-SHA256", "eb4c51db9ffb02d2850dd4fc7e3ad8b015d95c7c5f79a0fa38599dbe6d6a4ed2"),
            ("Content-Type", "application/json"),
            ("X-Amz-Date", "20261124T062015Z"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/lambda/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, Signature=ac23bd86c29d2cfeb8212a39d3157bca3cf7665c6466b87c991dd5087c102c73"),
        ],
        body: b"{\"ReservedConcurrentExecutions\": 5}",
        amz_date: "20261124T062015Z",
        epoch: 1795501215,
    },
    Vector {
        name: "syn_other_region_service",
        source: "botocore 1.44.5 SigV4Auth.add_auth",
        method: "GET",
        target: "/2015-03-31/functions",
        headers: &[
            ("Host", "hearth.internal:8080"),
            ("X-Amz-Date", "20261124T062015Z"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/eu-west-3/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=4c21527292d2ccab2618510d360e814a6e997caf7cc49f5471d909f306fe9a86"),
        ],
        body: b"",
        amz_date: "20261124T062015Z",
        epoch: 1795501215,
    },
    Vector {
        name: "syn_unsigned_payload",
        source: "botocore 1.44.5 SigV4Auth.add_auth",
        method: "POST",
        target: "/2015-03-31/functions/f/invocations",
        headers: &[
            ("Host", "localhost:9001"),
            ("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD"),
            ("X-Amz-Date", "20261124T062015Z"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=9a4a75355bf520582cf432424874ecfeace407536ffd621c83394d2c96fecdc9"),
        ],
        body: b"{}",
        amz_date: "20261124T062015Z",
        epoch: 1795501215,
    },
];

fn creds() -> Credentials {
    Credentials::parse(&format!("{ACCESS_KEY} {SECRET}\n")).expect("valid credentials")
}

fn vector(name: &str) -> &'static Vector {
    VECTORS
        .iter()
        .find(|v| v.name == name)
        .expect("known vector")
}

fn at(epoch: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(epoch)
}

/// An owned, editable copy of a vector.
#[derive(Clone)]
struct Req {
    method: Method,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Vec<u8>,
    now: SystemTime,
}

impl Req {
    fn from(v: &Vector) -> Req {
        // The generator's epoch (Python) and our parser agree on the captured date.
        assert_eq!(
            parse_amz_date(v.amz_date),
            Some(i64::try_from(v.epoch).unwrap()),
            "{}",
            v.name
        );
        let (path, query) = match v.target.split_once('?') {
            Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
            None => (v.target.to_owned(), None),
        };
        let mut headers = HeaderMap::new();
        for (name, value) in v.headers {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        Req {
            method: Method::from_bytes(v.method.as_bytes()).unwrap(),
            path,
            query,
            headers,
            body: v.body.to_vec(),
            now: at(v.epoch),
        }
    }

    fn named(name: &str) -> Req {
        Req::from(vector(name))
    }

    fn verify_with(&self, creds: &Credentials) -> Result<String, AuthError> {
        let query =
            Query::parse(self.query.as_deref()).map_err(|e| AuthError::Malformed(e.to_string()))?;
        verify(
            creds,
            &self.method,
            &self.path,
            &query,
            &self.headers,
            &self.body,
            self.now,
        )
    }

    fn verify(&self) -> Result<String, AuthError> {
        self.verify_with(&creds())
    }

    fn set(mut self, name: &'static str, value: &str) -> Req {
        self.headers
            .insert(name, HeaderValue::from_str(value).unwrap());
        self
    }

    fn set_bytes(mut self, name: &'static str, value: &[u8]) -> Req {
        self.headers
            .insert(name, HeaderValue::from_bytes(value).unwrap());
        self
    }

    fn authorization(&self) -> String {
        self.headers["authorization"].to_str().unwrap().to_owned()
    }

    fn edit_authorization(self, from: &str, to: &str) -> Req {
        let auth = self.authorization();
        assert!(auth.contains(from), "{auth} does not contain {from}");
        let edited = auth.replacen(from, to, 1);
        self.set("authorization", &edited)
    }
}

fn malformed(result: Result<String, AuthError>) -> String {
    match result {
        Err(AuthError::Malformed(message)) => message,
        other => panic!("expected Malformed, got {other:?}"),
    }
}

// --- captured requests are accepted -------------------------------------------------------

#[test]
fn every_captured_request_verifies() {
    for v in VECTORS {
        if matches!(
            v.name,
            "list_functions_session_token" | "syn_unsigned_payload"
        ) {
            continue;
        }
        assert_eq!(
            Req::from(v).verify(),
            Ok(ACCESS_KEY.to_owned()),
            "{} ({})",
            v.name,
            v.source
        );
    }
}

#[test]
fn create_function_post_with_json_body_verifies() {
    let r = Req::named("create_function");
    assert_eq!(r.method, Method::POST);
    assert!(r.body.starts_with(b"{\"FunctionName\": \"my-fn\""));
    assert_eq!(r.verify(), Ok(ACCESS_KEY.to_owned()));
}

#[test]
fn invoke_by_arn_with_qualifier_and_client_context_verifies() {
    let r = Req::named("invoke_arn");
    assert!(
        r.path
            .contains("arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Amy-fn")
    );
    assert_eq!(r.query.as_deref(), Some("Qualifier=%24LATEST"));
    assert!(
        r.authorization()
            .contains("SignedHeaders=host;x-amz-client-context;x-amz-date;x-amz-log-type,")
    );
    assert_eq!(r.verify(), Ok(ACCESS_KEY.to_owned()));
}

#[test]
fn list_functions_get_with_query_verifies() {
    let r = Req::named("list_functions");
    assert_eq!(
        (r.method.as_str(), r.query.as_deref()),
        ("GET", Some("MaxItems=2&Marker=b"))
    );
    assert_eq!(r.verify(), Ok(ACCESS_KEY.to_owned()));
}

#[test]
fn delete_function_verifies() {
    let r = Req::named("delete_function");
    assert_eq!(r.method, Method::DELETE);
    assert_eq!(r.verify(), Ok(ACCESS_KEY.to_owned()));
}

#[test]
fn the_signing_key_may_be_any_of_several() {
    let creds = Credentials::parse(&format!(
        "OTHERKEY c2VjcmV0\n{ACCESS_KEY}:{SECRET}\nTHIRD x\n"
    ))
    .unwrap();
    assert_eq!(
        Req::named("invoke_arn").verify_with(&creds),
        Ok(ACCESS_KEY.to_owned())
    );
}

#[test]
fn any_region_and_service_in_the_scope_is_accepted() {
    let r = Req::named("syn_other_region_service");
    assert!(
        r.authorization()
            .contains("/eu-west-3/execute-api/aws4_request")
    );
    assert_eq!(r.verify(), Ok(ACCESS_KEY.to_owned()));
}

// --- tampering and wrong keys -------------------------------------------------------------

#[test]
fn a_wrong_secret_is_a_signature_mismatch() {
    let wrong = Credentials::parse(&format!("{ACCESS_KEY} {SECRET}x")).unwrap();
    for v in VECTORS.iter().filter(|v| {
        !matches!(
            v.name,
            "list_functions_session_token" | "syn_unsigned_payload"
        )
    }) {
        assert_eq!(
            Req::from(v).verify_with(&wrong),
            Err(AuthError::SignatureMismatch),
            "{}",
            v.name
        );
    }
}

#[test]
fn an_unknown_access_key_is_unrecognized() {
    let others = Credentials::parse(&format!("AKIDOTHER {SECRET}")).unwrap();
    assert_eq!(
        Req::named("create_function").verify_with(&others),
        Err(AuthError::UnknownAccessKey)
    );
    assert_eq!(
        Req::named("list_functions").verify_with(&Credentials::default()),
        Err(AuthError::UnknownAccessKey)
    );
}

#[test]
fn a_modified_body_is_a_signature_mismatch() {
    let mut r = Req::named("create_function");
    r.body = r
        .body
        .iter()
        .map(|&b| if b == b'h' { b'H' } else { b })
        .collect();
    assert_eq!(r.verify(), Err(AuthError::SignatureMismatch));
    let mut r = Req::named("invoke_arn");
    r.body.push(b' ');
    assert_eq!(r.verify(), Err(AuthError::SignatureMismatch));
    let mut r = Req::named("delete_function");
    r.body = b"{}".to_vec();
    assert_eq!(r.verify(), Err(AuthError::SignatureMismatch));
}

#[test]
fn a_modified_signed_header_is_a_signature_mismatch() {
    let r = Req::named("invoke_arn").set("x-amz-client-context", "eyJhIjoyfQ==");
    assert_eq!(r.verify(), Err(AuthError::SignatureMismatch));
    let r = Req::named("invoke_arn").set("x-amz-log-type", "None");
    assert_eq!(r.verify(), Err(AuthError::SignatureMismatch));
    let r = Req::named("create_function").set("content-type", "application/x-amz-json-1.1");
    assert_eq!(r.verify(), Err(AuthError::SignatureMismatch));
    // The port is part of the signed host.
    let r = Req::named("list_functions").set("host", "127.0.0.1:9002");
    assert_eq!(r.verify(), Err(AuthError::SignatureMismatch));
    let mut r = Req::named("list_functions");
    r.headers.remove("host");
    assert_eq!(r.verify(), Err(AuthError::SignatureMismatch));
    // A second value for a signed header changes its canonical form ("a,b").
    let mut r = Req::named("invoke_arn");
    r.headers
        .append("x-amz-log-type", HeaderValue::from_static("Tail"));
    assert_eq!(r.verify(), Err(AuthError::SignatureMismatch));
}

#[test]
fn unsigned_headers_may_change() {
    let r = Req::named("invoke_arn")
        .set("user-agent", "curl/8")
        .set("amz-sdk-request", "attempt=2; max=3")
        .set("x-forwarded-for", "10.0.0.1");
    assert_eq!(r.verify(), Ok(ACCESS_KEY.to_owned()));
}

#[test]
fn a_modified_path_query_or_method_is_a_signature_mismatch() {
    let mut r = Req::named("invoke_arn");
    r.path = r.path.replace("my-fn", "my-fm");
    assert_eq!(r.verify(), Err(AuthError::SignatureMismatch));
    // Same function, encoded differently on the wire: the canonical URI differs.
    let mut r = Req::named("invoke_arn");
    r.path = r.path.replace("%3A", ":");
    assert_eq!(r.verify(), Err(AuthError::SignatureMismatch));
    let mut r = Req::named("list_functions");
    r.query = Some("MaxItems=3&Marker=b".to_owned());
    assert_eq!(r.verify(), Err(AuthError::SignatureMismatch));
    let mut r = Req::named("list_functions");
    r.query = None;
    assert_eq!(r.verify(), Err(AuthError::SignatureMismatch));
    let mut r = Req::named("delete_function");
    r.method = Method::GET;
    assert_eq!(r.verify(), Err(AuthError::SignatureMismatch));
}

#[test]
fn the_query_is_canonicalised_not_compared_raw() {
    // Order and the encoding of unreserved-safe characters do not matter: both sides sort
    // and re-encode.
    let mut r = Req::named("list_functions");
    r.query = Some("Marker=b&MaxItems=2".to_owned());
    assert_eq!(r.verify(), Ok(ACCESS_KEY.to_owned()));
    let mut r = Req::named("invoke_arn");
    r.query = Some("Qualifier=$LATEST".to_owned());
    assert_eq!(r.verify(), Ok(ACCESS_KEY.to_owned()));
    let mut r = Req::named("list_functions");
    r.query = Some("MaxItems=%32&Marker=%62".to_owned());
    assert_eq!(r.verify(), Ok(ACCESS_KEY.to_owned()));
}

#[test]
fn a_tampered_signature_is_a_mismatch() {
    let r = Req::named("list_functions");
    let auth = r.authorization();
    let sig = auth.rsplit("Signature=").next().unwrap().to_owned();
    let flipped: String = sig.chars().rev().collect();
    let bads = [
        flipped,
        sig[..63].to_owned(),
        format!("{sig}0"),
        sig.replace(char::is_numeric, "g"),
        String::new(),
    ];
    for bad in &bads {
        let r = Req::named("list_functions")
            .edit_authorization(&format!("Signature={sig}"), &format!("Signature={bad}"));
        assert_eq!(r.verify(), Err(AuthError::SignatureMismatch), "{bad}");
    }
    // Hex case does not matter for the provided signature.
    let r = Req::named("list_functions").edit_authorization(&sig, &sig.to_uppercase());
    assert_eq!(r.verify(), Ok(ACCESS_KEY.to_owned()));
}

#[test]
fn the_declared_payload_hash_must_match_the_body() {
    assert_eq!(
        Req::named("syn_content_sha256_header").verify(),
        Ok(ACCESS_KEY.to_owned())
    );
    let mut r = Req::named("syn_content_sha256_header");
    r.body = b"{\"ReservedConcurrentExecutions\": 500}".to_vec();
    assert_eq!(r.verify(), Err(AuthError::SignatureMismatch));
    let message = malformed(Req::named("syn_unsigned_payload").verify());
    assert!(message.contains("UNSIGNED-PAYLOAD"), "{message}");
    let r = Req::named("syn_content_sha256_header")
        .set("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD");
    assert!(matches!(r.verify(), Err(AuthError::Malformed(_))));
}

// --- missing, expired, malformed ----------------------------------------------------------

#[test]
fn no_authorization_header_is_missing() {
    let mut r = Req::named("list_functions");
    r.headers.remove("authorization");
    assert_eq!(r.verify(), Err(AuthError::Missing));
    assert_eq!(
        AuthError::Missing.to_string(),
        "Missing Authentication Token"
    );
    let mut r = Req::named("delete_function");
    r.headers.clear();
    assert_eq!(r.verify(), Err(AuthError::Missing));
}

#[test]
fn presigned_urls_are_refused_as_malformed() {
    let mut r = Req::named("list_functions");
    r.headers.remove("authorization");
    r.query = Some("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20261124%2Fus-east-1%2Flambda%2Faws4_request&X-Amz-Signature=00".to_owned());
    assert!(malformed(r.verify()).contains("Presigned"));
}

#[test]
fn a_date_twenty_minutes_off_is_expired() {
    let v = vector("invoke_arn");
    let mut r = Req::from(v);
    r.now = at(v.epoch + 20 * 60);
    assert_eq!(
        r.verify(),
        Err(AuthError::Expired(
            "Signature expired: 20261124T061835Z is now earlier than 20261124T062335Z (20261124T063835Z - 15 min.)".to_owned()
        ))
    );
    r.now = at(v.epoch - 20 * 60);
    assert_eq!(
        r.verify(),
        Err(AuthError::Expired(
            "Signature not yet current: 20261124T061835Z is still later than 20261124T061335Z (20261124T055835Z + 15 min.)".to_owned()
        ))
    );
    // An expired request with a wrong signature still reports the expiry.
    let mut r = Req::from(v).set("x-amz-log-type", "None");
    r.now = at(v.epoch + 20 * 60);
    assert!(matches!(r.verify(), Err(AuthError::Expired(_))));
}

#[test]
fn a_date_within_fifteen_minutes_is_accepted() {
    let v = vector("create_function");
    for offset in [-(15 * 60), -(14 * 60), -1, 0, 1, 14 * 60, 15 * 60] {
        let mut r = Req::from(v);
        r.now = at(v.epoch.checked_add_signed(offset).unwrap());
        assert_eq!(r.verify(), Ok(ACCESS_KEY.to_owned()), "offset {offset}");
    }
    let mut r = Req::from(v);
    r.now = at(v.epoch + 15 * 60 + 1);
    assert!(matches!(r.verify(), Err(AuthError::Expired(_))));
}

#[test]
fn a_session_token_is_refused() {
    let r = Req::named("list_functions_session_token");
    assert!(r.authorization().contains("x-amz-security-token"));
    assert_eq!(r.verify(), Err(AuthError::UnknownAccessKey));
}

#[test]
fn garbage_authorization_is_malformed() {
    for garbage in [
        "",
        "garbage",
        "Bearer eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.e30.x",
        "AWS AKIDEXAMPLE:c2lnbmF0dXJl",
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/lambda/aws4_request",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date",
        "AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature=00",
        "AWS4-HMAC-SHA256 Credential AKIDEXAMPLE",
        "AWS4-HMAC-SHA512 Credential=AKIDEXAMPLE/20261124/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=00",
        "AWS4-ECDSA-P256-SHA256 Credential=AKIDEXAMPLE/20261124/lambda/aws4_request, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=a, Credential=b, SignedHeaders=host, Signature=00",
    ] {
        let r = Req::named("list_functions").set("authorization", garbage);
        assert!(
            matches!(r.verify(), Err(AuthError::Malformed(_))),
            "{garbage:?}"
        );
    }
}

#[test]
fn malformed_messages_use_aws_wording() {
    let r = Req::named("list_functions").set("authorization", "Bearer abc");
    assert_eq!(
        malformed(r.verify()),
        "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. \
         Authorization header requires 'SignedHeaders' parameter. Authorization=Bearer abc"
    );
    let r = Req::named("list_functions")
        .edit_authorization("Credential=AKIDEXAMPLE/", "Credential=AKIDEXAMPLE /");
    let message = malformed(r.verify());
    assert!(
        message.starts_with("'/20261124/us-east-1/lambda/aws4_request' not a valid key=value pair (missing equal-sign) in Authorization header: 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE /"),
        "{message}"
    );
    let r = Req::named("list_functions").edit_authorization("/aws4_request", "/aws5_request");
    assert_eq!(
        malformed(r.verify()),
        "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'."
    );
    let r = Req::named("list_functions").edit_authorization("us-east-1/lambda/", "lambda/");
    assert!(
        malformed(r.verify())
            .starts_with("Credential must have exactly 5 slash-delimited elements")
    );
    let r = Req::named("list_functions").edit_authorization("/20261124/", "/20261123/");
    assert_eq!(
        malformed(r.verify()),
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20261123' != '20261124', from '20261124T061835Z'."
    );
    let r = Req::named("list_functions").edit_authorization("us-east-1", "");
    assert!(malformed(r.verify()).contains("valid region"));
}

#[test]
fn host_must_be_signed() {
    let r = Req::named("invoke_arn").edit_authorization("SignedHeaders=host;", "SignedHeaders=");
    assert_eq!(
        malformed(r.verify()),
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
    );
    let r = Req::named("list_functions")
        .edit_authorization("SignedHeaders=host;x-amz-date", "SignedHeaders=x-amz-date");
    assert!(malformed(r.verify()).contains("'Host'"));
    let r = Req::named("list_functions").edit_authorization(
        "SignedHeaders=host;x-amz-date",
        "SignedHeaders=host;;x-amz-date",
    );
    assert!(malformed(r.verify()).contains("Invalid header name ''"));
}

#[test]
fn x_amz_date_must_be_present_single_and_basic_iso8601() {
    let mut r = Req::named("list_functions");
    r.headers.remove("x-amz-date");
    assert!(
        malformed(r.verify())
            .contains("requires existence of either a 'X-Amz-Date' or a 'Date' header")
    );
    let r2 = r.clone().set("date", "Tue, 24 Nov 2026 06:18:35 GMT");
    assert!(malformed(r2.verify()).contains("'Date' header is not supported"));
    for bad in [
        "2026-11-24T06:18:35Z",
        "20261124T061835",
        "20261124T246035Z",
        "20260229T000000Z",
        "20261124t061835z",
        "+0261124T061835Z",
    ] {
        let r = Req::named("list_functions").set("x-amz-date", bad);
        assert_eq!(
            malformed(r.verify()),
            format!(
                "Date must be in ISO-8601 'basic format'. Got '{bad}'. See http://en.wikipedia.org/wiki/ISO_8601"
            )
        );
    }
    let mut r = Req::named("list_functions");
    r.headers
        .append("x-amz-date", HeaderValue::from_static("20261124T061835Z"));
    assert!(malformed(r.verify()).contains("more than one 'x-amz-date'"));
    let mut r = Req::named("list_functions");
    r.headers.append(
        "authorization",
        HeaderValue::from_static("AWS4-HMAC-SHA256"),
    );
    assert!(malformed(r.verify()).contains("more than one Authorization"));
}

#[test]
fn paths_with_dot_or_empty_segments_are_refused() {
    for path in [
        "/2015-03-31/functions/x/../my-fn",
        "/2015-03-31/./functions/my-fn",
        "//2015-03-31/functions/my-fn",
        "/2015-03-31/functions//my-fn",
        "//",
    ] {
        let mut r = Req::named("delete_function");
        r.path = path.to_owned();
        assert!(malformed(r.verify()).contains("segments"), "{path}");
    }
}

#[test]
fn error_codes_and_statuses_match_lambda() {
    let cases = [
        (AuthError::Missing, "MissingAuthenticationTokenException"),
        (
            AuthError::Malformed("x".into()),
            "IncompleteSignatureException",
        ),
        (AuthError::UnknownAccessKey, "UnrecognizedClientException"),
        (AuthError::SignatureMismatch, "InvalidSignatureException"),
        (AuthError::Expired("x".into()), "InvalidSignatureException"),
    ];
    for (error, code) in cases {
        assert_eq!((error.code(), error.status()), (code, 403));
    }
    assert_eq!(
        AuthError::UnknownAccessKey.to_string(),
        "The security token included in the request is invalid."
    );
    assert!(
        AuthError::SignatureMismatch
            .to_string()
            .starts_with("The request signature we calculated does not match")
    );
}

// --- canonicalisation details (values from botocore's debug log) --------------------------

#[test]
fn canonical_uri_double_encodes_the_wire_path() {
    assert_eq!(
        canonical_uri("/2015-03-31/functions/my-fn%3A%24LATEST").unwrap(),
        "/2015-03-31/functions/my-fn%253A%2524LATEST"
    );
    assert_eq!(
        canonical_uri("/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Amy-fn/invocations").unwrap(),
        "/2015-03-31/functions/arn%253Aaws%253Alambda%253Aus-east-1%253A123456789012%253Afunction%253Amy-fn/invocations"
    );
    assert_eq!(canonical_uri("").unwrap(), "/");
    assert_eq!(canonical_uri("/").unwrap(), "/");
    assert_eq!(canonical_uri("/a-b_c.d~e/").unwrap(), "/a-b_c.d~e/");
    assert_eq!(canonical_uri("/a b$").unwrap(), "/a%20b%24");
}

#[test]
fn canonical_query_sorts_and_reencodes() {
    let canonical = |raw: &str| Query::parse(Some(raw)).expect("query").canonical();
    assert_eq!(
        canonical("MaxItems=5&Marker=abc%3D%2F%2B"),
        "Marker=abc%3D%2F%2B&MaxItems=5"
    );
    assert_eq!(canonical("b=2&a=2&a=1&flag&e="), "a=1&a=2&b=2&e=&flag=");
    assert_eq!(canonical("k=a%20b+c*~"), "k=a%20b%2Bc%2A~");
    assert_eq!(canonical(""), "");
    assert_eq!(canonical("&&"), "");
    assert!(
        Query::parse(Some("k=%zz%4")).is_err(),
        "bad escapes refuse the query"
    );
}

#[test]
fn header_values_are_trimmed_and_collapsed() {
    let mut out = Vec::new();
    push_trimmed(&mut out, b"  a   b \t c  ");
    assert_eq!(out, b"a b c");
    out.clear();
    push_trimmed(&mut out, b" \t ");
    assert_eq!(out, b"");
}

#[test]
fn amz_dates_round_trip() {
    for (s, unix) in [
        ("19700101T000000Z", 0),
        ("20261124T061835Z", 1_795_501_115),
        ("20240229T235959Z", 1_709_251_199),
        ("20000301T000000Z", 951_868_800),
        ("99991231T235959Z", MAX_UNIX_SECONDS),
    ] {
        assert_eq!(parse_amz_date(s), Some(unix), "{s}");
        assert_eq!(format_amz_date(unix), s);
    }
    assert_eq!(format_amz_date(-1), "19691231T235959Z");
    for bad in [
        "",
        "20230229T000000Z",
        "21000229T000000Z",
        "20261131T000000Z",
        "20261100T000000Z",
        "20261124T000060Z",
        "2026112٣T000000",
    ] {
        assert_eq!(parse_amz_date(bad), None, "{bad}");
    }
    assert_eq!(parse_amz_date("20000229T000000Z"), Some(951_782_400));
    assert_eq!(unix_seconds(UNIX_EPOCH - Duration::from_secs(5)), 0);
    assert_eq!(
        unix_seconds(UNIX_EPOCH + Duration::from_secs(1 << 50)),
        MAX_UNIX_SECONDS
    );
}

// --- credentials files --------------------------------------------------------------------

#[test]
fn parses_key_lines() {
    let creds = Credentials::parse(
        "# hearth keys\n\nAKIDEXAMPLE wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\n  ci-key:s3cr3t+/=  \nLOCAL.1 \t : tab-and-colon\n\u{20}# indented comment\nAKIDEXAMPLE wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\n",
    )
    .unwrap();
    assert_eq!(creds.access_key_ids(), ["AKIDEXAMPLE", "LOCAL.1", "ci-key"]);
    assert_eq!(creds.secret("ci-key"), Some("s3cr3t+/="));
    assert_eq!(creds.secret("LOCAL.1"), Some("tab-and-colon"));
    assert_eq!(creds.len(), 3);
    assert!(!creds.is_empty());
}

#[test]
fn parses_aws_shared_credentials_ini() {
    let text = "\u{feff}; ~/.aws/credentials\n[default]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\nregion=us-east-1\n\n[ci]\nAWS_ACCESS_KEY_ID=CIKEY\n# comment\naws_secret_access_key=ci/secret==\naws_session_token = ignored\ns3 =\n    max_concurrent_requests = 10\n\n[sso-only]\nsso_start_url = https://example.invalid/start\n[same-as-default]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\n";
    let creds = Credentials::parse(text).unwrap();
    assert_eq!(creds.access_key_ids(), ["AKIDEXAMPLE", "CIKEY"]);
    assert_eq!(creds.secret("CIKEY"), Some("ci/secret=="));
    assert_eq!(creds.secret("AKIDEXAMPLE"), Some(SECRET));
}

#[test]
fn empty_files_give_empty_credentials() {
    for text in [
        "",
        "\n\n",
        "# nothing yet\n",
        "[default]\nregion = eu-west-1\n",
    ] {
        let creds = Credentials::parse(text).unwrap();
        assert!(creds.is_empty(), "{text:?}");
    }
}

fn syntax_error(text: &str) -> (usize, String) {
    match Credentials::parse(text) {
        Err(CredentialsError::Syntax {
            path: None,
            line,
            message,
        }) => (line, message),
        other => panic!("expected a syntax error for {text:?}, got {other:?}"),
    }
}

#[test]
fn key_line_errors_name_the_line() {
    assert_eq!(syntax_error("# c\nLONELYKEY\n").0, 2);
    assert!(
        syntax_error("A s\nB\n")
            .1
            .contains("expected `ACCESS_KEY_ID SECRET`")
    );
    assert_eq!(
        syntax_error("A s\n\nB:\n"),
        (3, "missing secret after access key id `B`".to_owned())
    );
    assert_eq!(syntax_error("A s extra\n").0, 1);
    assert!(
        syntax_error("A s\nA other\n")
            .1
            .contains("already defined on line 1 with a different secret")
    );
    let (line, message) = syntax_error("good s\nwJalr/K7MDENG+bPxR AKIDEXAMPLE\n");
    assert_eq!(line, 2);
    assert!(
        message.contains("invalid access key id") && !message.contains("wJalr"),
        "{message}"
    );
    assert!(
        syntax_error("A s\n[default]\n")
            .1
            .contains("one format per file")
    );
    assert!(
        syntax_error("aws_access_key_id = AKID\n")
            .1
            .contains("outside a [profile] section")
    );
    assert!(
        syntax_error(&format!("{} s\n", "K".repeat(129)))
            .1
            .contains("at most 128")
    );
}

#[test]
fn ini_errors_name_the_line() {
    assert_eq!(
        syntax_error("[a]\naws_access_key_id = K\n\n[b]\n"),
        (
            1,
            "profile [a] sets aws_access_key_id (line 2) but no aws_secret_access_key".to_owned()
        )
    );
    assert_eq!(syntax_error("[a]\naws_secret_access_key = S\n").0, 1);
    assert_eq!(
        syntax_error("[a]\naws_access_key_id = K\naws_access_key_id = L\n").0,
        3
    );
    assert_eq!(syntax_error("[a\n").0, 1);
    assert_eq!(syntax_error("[ ]\n").0, 1);
    assert_eq!(syntax_error("[a]\njust words\n").0, 2);
    assert_eq!(
        syntax_error("[a]\naws_access_key_id = K\naws_secret_access_key = two words\n").0,
        3
    );
    assert_eq!(
        syntax_error("[a]\naws_access_key_id =\naws_secret_access_key = s\n").0,
        2
    );
    assert_eq!(syntax_error("[a]\naws_access_key_id = K\naws_secret_access_key = s\n[b]\naws_access_key_id = K\naws_secret_access_key = t\n").0, 5);
}

#[test]
fn errors_and_debug_never_show_secrets() {
    let (_, message) = syntax_error("A supersecret1\nA supersecret2\n");
    assert!(!message.contains("supersecret"), "{message}");
    let (_, message) =
        syntax_error("[a]\naws_access_key_id = K\naws_secret_access_key = super secret\n");
    assert!(!message.contains("super"), "{message}");
    let debug = format!("{:?}", creds());
    assert!(
        debug.contains(ACCESS_KEY) && !debug.contains(SECRET),
        "{debug}"
    );
}

#[test]
fn load_reads_a_file_and_names_it_in_errors() {
    let dir = std::env::temp_dir().join(format!("hearth-auth-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("credentials");
    std::fs::write(
        &good,
        format!("[default]\naws_access_key_id={ACCESS_KEY}\naws_secret_access_key={SECRET}\n"),
    )
    .unwrap();
    assert_eq!(Credentials::load(&good).unwrap(), creds());
    let bad = dir.join("bad");
    std::fs::write(&bad, "ok secret\nnope\n").unwrap();
    let error = Credentials::load(&bad).unwrap_err();
    assert!(
        matches!(&error, CredentialsError::Syntax { path: Some(p), line: 2, .. } if p == &bad),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "credentials file {}, line 2: expected `ACCESS_KEY_ID SECRET` or `ACCESS_KEY_ID:SECRET`",
            bad.display()
        )
    );
    let missing = dir.join("missing");
    let error = Credentials::load(&missing).unwrap_err();
    assert!(matches!(error, CredentialsError::Io { .. }));
    assert!(error.to_string().starts_with(&format!(
        "cannot read credentials file {}",
        missing.display()
    )));
    std::fs::remove_dir_all(&dir).unwrap();
}

// --- robustness ---------------------------------------------------------------------------

#[test]
fn nasty_inputs_never_panic() {
    let long = "A".repeat(100_000);
    let authorizations: Vec<Vec<u8>> = [
        "", " ", "\t", "=", "==,==", ",,,,", "AWS4-HMAC-SHA256 ", "AWS4-HMAC-SHA256 ,;=/",
        "AWS4-HMAC-SHA256 Credential=", "AWS4-HMAC-SHA256 Credential=////, SignedHeaders=;, Signature=",
        "AWS4-HMAC-SHA256 Credential=/////////, SignedHeaders=host, Signature=zz",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/lambda/aws4_request, SignedHeaders=host;(;x, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/lambda/aws4_request, SignedHeaders=HOST;X-AMZ-DATE, Signature=0000000000000000000000000000000000000000000000000000000000000000",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffé",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/ü/λ/aws4_request, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256\tCredential=AKIDEXAMPLE/20261124/us-east-1/lambda/aws4_request,SignedHeaders=host;x-amz-date,Signature=00",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .chain([
        format!("AWS4-HMAC-SHA256 Credential={long}, SignedHeaders={long}, Signature={long}").into_bytes(),
        b"AWS4-HMAC-SHA256 Credential=\xff\xfe/20261124/us-east-1/lambda/aws4_request".to_vec(),
        b"\x80\x81\x82".to_vec(),
    ])
    .collect();
    let dates: &[&[u8]] = &[
        b"",
        b"2026",
        b"20261324T000000Z",
        b"99999999T999999Z",
        b"00000101T000000Z",
        b"2026112\xe2T000000Z",
        b"20261124T061835Z",
    ];
    let paths = [
        "",
        "/",
        "//",
        "/..",
        "/.",
        "%",
        "%%",
        "/%zz",
        "/%",
        "/\u{1F600}",
        "/a/./b/../",
        "..",
        "a",
    ];
    let queries = [
        None,
        Some(""),
        Some("%"),
        Some("&&&"),
        Some("="),
        Some("a=%G1"),
        Some("%FF%FE=%00"),
        Some("X-Amz-Signature"),
        Some("===&=&&="),
    ];
    let nows = [
        UNIX_EPOCH,
        UNIX_EPOCH + Duration::from_secs(1 << 40),
        UNIX_EPOCH - Duration::from_secs(1 << 30),
        at(1_795_501_115),
    ];
    let base = Req::named("list_functions");
    let mut count = 0usize;
    // Every Authorization header with every X-Amz-Date, at several clocks…
    for auth in &authorizations {
        for date in dates {
            for now in nows {
                let mut r = base
                    .clone()
                    .set_bytes("authorization", auth)
                    .set_bytes("x-amz-date", date);
                r.now = now;
                let _ = r.verify();
                count += 1;
            }
        }
    }
    // …and every path with every query, on an otherwise valid request.
    for path in paths {
        for query in queries {
            let mut r = base.clone();
            r.path = path.to_owned();
            r.query = query.map(str::to_owned);
            assert_ne!(r.verify(), Ok(ACCESS_KEY.to_owned()), "{path} {query:?}");
            count += 1;
        }
    }
    assert!(count > 500);
}

#[test]
fn randomly_mutated_requests_never_panic_and_never_verify() {
    // Deterministic xorshift; mutate the Authorization header, X-Amz-Date and the query of a
    // valid request; only edits that keep it equivalent may still verify.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let base = Req::named("invoke_arn");
    let auth = base.authorization().into_bytes();
    let alphabet: &[u8] =
        b"AWS4-HMAC-SHA256 Credential=/,;= \tSignedHeaders0123456789abcdef%\x80\xff";
    for _ in 0..3000 {
        let mut mutated = auth.clone();
        for _ in 0..=(next() % 4) {
            let pos = (next() as usize) % (mutated.len() + 1);
            let byte = alphabet[(next() as usize) % alphabet.len()];
            match next() % 3 {
                0 if pos < mutated.len() => mutated[pos] = byte,
                1 if pos < mutated.len() => {
                    mutated.remove(pos);
                }
                _ => mutated.insert(pos, byte),
            }
        }
        let Ok(value) = HeaderValue::from_bytes(&mutated) else {
            continue;
        };
        let mut r = base.clone();
        r.headers.insert("authorization", value);
        if next() % 4 == 0 {
            r.query = Some(String::from_utf8_lossy(&mutated[..mutated.len().min(40)]).into_owned());
        }
        let result = r.verify();
        if result.is_ok() {
            // Only harmless edits may pass: separators and the signature's hex case.
            let normal = |b: &[u8]| -> Vec<u8> {
                b.iter()
                    .filter(|c| !matches!(c, b' ' | b'\t' | b','))
                    .map(u8::to_ascii_lowercase)
                    .collect()
            };
            assert_eq!(
                normal(&mutated),
                normal(&auth),
                "{}",
                String::from_utf8_lossy(&mutated)
            );
            assert_eq!(r.query, base.query);
        }
    }
}

#[test]
fn what_the_cli_signs_verifies_and_covers_every_header() {
    // The CLI signs with AWS's own signer; the verifier must accept it, and every header it
    // sends (X-Amz-Invocation-Type included) must be covered.
    let creds = Credentials::parse("AKIDEXAMPLE secret-1").expect("creds");
    let key = crate::client::SigningKey {
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: "secret-1".into(),
        region: "us-east-1".into(),
    };
    let path = "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af/invocations";
    let mut request = http::Request::builder()
        .method(Method::POST)
        .uri(format!("http://127.0.0.1:9001{path}?Qualifier=%24LATEST"))
        .header("content-type", "application/json")
        .header("x-amz-invocation-type", "Event")
        .body(http_body_util::Full::new(bytes::Bytes::from_static(b"{}")))
        .expect("request");
    crate::client::sign_for_tests(&key, &mut request, b"{}").expect("sign");
    let query = Query::parse(Some("Qualifier=%24LATEST")).expect("query");
    let check = |headers: &HeaderMap, body: &[u8]| {
        verify(
            &creds,
            &Method::POST,
            path,
            &query,
            headers,
            body,
            SystemTime::now(),
        )
    };
    assert_eq!(
        check(request.headers(), b"{}").as_deref(),
        Ok("AKIDEXAMPLE")
    );
    assert_eq!(
        check(request.headers(), b"{ }"),
        Err(AuthError::SignatureMismatch)
    );
    let mut changed = request.headers().clone();
    changed.insert(
        "x-amz-invocation-type",
        http::HeaderValue::from_static("RequestResponse"),
    );
    assert_eq!(check(&changed, b"{}"), Err(AuthError::SignatureMismatch));
}
