"""The edge corpus of the string forms: values on both sides of what the worker accepts, per form.

Shared by tests/interop/test_format_matrix.py (the validator matrix) and tests/interop/test_node_producer.py
(the same values through the Node.js producer into Redis and a real worker).
"""

from __future__ import annotations

UUID_TEXT = "0b9e6a52-7d3c-4b8e-9f21-3c1e2f4a5b6c"

EDGES: dict[str, list[str]] = {
    "date-time": [
        "2024-05-01T12:00:00Z", "2024-05-01t12:00:00z", "2024-05-01T12:00:00z", "2024-05-01 12:00:00Z",
        "2016-12-31T23:59:60Z", "2017-01-01T00:59:60+01:00", "2024-05-01T12:00:00+0100",
        "2024-05-01T12:00:00+01:00", "2024-05-01T12:00:00+01", "2024-05-01T12:00:00-00:00",
        "2024-05-01T12:00:00+23:59", "2024-05-01T12:00:00+24:00", "2024-05-01T12:00:00", "2024-05-01T12:00Z",
        "2024-05-01T12:00:00.5Z", "2024-05-01T12:00:00.123456789Z", "2024-05-01T12:00:00.Z",
        "2024-05-01T12:00:00,5Z", "2024-05-01T24:00:00Z", "2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z",
        "2000-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2024-02-30T00:00:00Z", "2024-04-31T00:00:00Z",
        "2024-13-01T00:00:00Z", "2024-00-01T00:00:00Z", "2024-01-00T00:00:00Z", "0000-01-01T00:00:00Z", "0000-02-29T00:00:00Z",
        "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2024-05-01", "1700000000",
        "not a date", "2024-05-01T12:00:00Z\n", " 2024-05-01T12:00:00Z", "2024-05-01T12:00:00 Z",
        "20240501T120000Z", "+2024-05-01T12:00:00Z", "2024-5-1T12:00:00Z", "2024-05-01T12:00:00ZZ",
        "2024-05-01T12:00:00+01:00:30", "\u0662\u0660\u0662\u0664-05-01T12:00:00Z", "",
    ],
    "date": [
        "2024-05-01", "2024-02-29", "2023-02-29", "2000-02-29", "1900-02-29", "2024-02-30", "2024-04-31",
        "2024-13-01", "2024-00-10", "2024-01-00", "0000-01-01", "0000-02-29", "0001-01-01", "9999-12-31", "2024-5-1",
        "20240501", "2024-05-01T00:00:00", "2024-05-01T00:00:00Z", "2024-05-01Z", "2024-05-01\n",
        " 2024-05-01", "not a date", "",
    ],
    "time": [
        "12:30:00Z", "12:30:00z", "12:30:00+01:00", "12:30:00+0100", "12:30:00-00:00", "12:30:00", "12:30Z",
        "12:30:00.5Z", "12:30:00.1234567Z", "23:59:60Z", "24:00:00Z", "12:60:00Z", "12:30:00+24:00",
        "T12:30:00Z", "123000Z", "12:30:00Z\n", "noon", "",
    ],
    "uuid": [
        UUID_TEXT, UUID_TEXT.upper(), UUID_TEXT.replace("-", ""), "urn:uuid:" + UUID_TEXT,
        "URN:UUID:" + UUID_TEXT, "{" + UUID_TEXT + "}", UUID_TEXT + "\n", " " + UUID_TEXT, UUID_TEXT + " ",
        UUID_TEXT[:8] + UUID_TEXT[9:], UUID_TEXT[:-1], UUID_TEXT + "0", UUID_TEXT[:-1] + "g",
        "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff", "not-a-uuid", "",
    ],
    "uuid4": [
        UUID_TEXT, UUID_TEXT.upper(), "0b9e6a52-7d3c-1b8e-9f21-3c1e2f4a5b6c", "0b9e6a52-7d3c-4b8e-cf21-3c1e2f4a5b6c",
        "0b9e6a52-7d3c-4b8e-7f21-3c1e2f4a5b6c", "0b9e6a52-7d3c-4b8e-Bf21-3c1e2f4a5b6c", "urn:uuid:" + UUID_TEXT,
        "00000000-0000-0000-0000-000000000000",
    ],
    "duration": [
        "PT0S", "P1D", "PT1H", "P1DT1H1M1.5S", "-PT1S", "-P1D", "PT0.000001S", "P1Y35D", "P21D", "P1W", "P1M",
        "PT0.5S", "PT1.5H", "P-1D", "PT", "P", "P1DT", "PT61S", "PT60M", "PT24H", "P365D", "P400D",
        "PT1.1234567S", "P2739726Y9DT23H59M59.999999S", "-P2739726Y9D", "-P2739726Y9DT1S", "P2739726Y10D",
        "P2739727Y", "P1000000000D", "1 day, 01:00:00", "01:00:00", "p1d", "P1d", "+P1D", "PT1S\n", "-PT0S",
        "P01D", "",
    ],
    "ipv6": [
        "::", "::1", "1::", "2001:db8::1", "2001:DB8::1", "2001:0db8:0000:0000:0000:0000:0000:0001",
        "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "1::2::3", ":::1", "1:::", "12345::1",
        "::ffff:192.0.2.1", "::ffff:192.0.2.01", "1:2:3:4:5:6:192.0.2.1", "1:2:3:4:5:6:7:192.0.2.1",
        "fe80::1%eth0", "fe80::1%1", "[::1]", "::1\n", " ::1", "g::1", "192.0.2.1", "",
    ],
    "ipv4": [
        "192.0.2.1", "0.0.0.0", "255.255.255.255", "256.0.0.1", "01.2.3.4", "1.2.3", "1.2.3.4.5", "1.2.3.4\n",
        " 1.2.3.4", "::1", "",
    ],
    "uri": [
        "https://example.com/", "HTTPS://Example.COM", "https://u:p@example.com:8080/a/b?c=d&e=f#g",
        "http://example.com/a%7Cb", "http://example.com/a|b", "http://example.com/a^b", "http://example.com/{x}",
        "http://example.com/a b", "http://example.com/%zz", "http://example.com/\u00e9", "http://b\u00fccher.de/",
        "http://xn--bcher-kva.de/", "http://xn--a/", "http://a.1/", "http://a.1./", "http://a.0x/", "http://0x1/",
        "http://1.2.3.4/", "http://01.2.3.4/", "http://1.2.3/", "http://256.1.1.1/", "http://1.2.3.4a/",
        "http://[::1]:80/", "http://[v1.x]/", "http://[fe80::1%25eth0]/", "http://a:65535/", "http://a:65536/",
        "http://a:000080/", "http://a:/", "http://a_b~!$&'()*+,;=c.com/", "http://a%41b/", "http:///x", "http://",
        "http:example.com", "ftp://example.com/x", "ws://example.com", "file:///C:/x", "file://localhost/etc",
        "file:", "file://u@h/", "file://h:80/", "foo:", "foo:bar", "foo:/a//b", "foo://", "foo:///x",
        "foo://u@", "foo://:80", "foo://a.1", "mailto:a@example.com", "urn:isbn:0451450523",
        "tag:example.com,2024:a", "x-y+z.w:q", "1a:b", ":a", "example.com", "/a/b", "//example.com/",
        "https://example.com/\n", "https://example.com/ ", " https://example.com/", "not a url", "",
    ],
    "http-url": [
        "https://example.com/", "HTTP://example.com", "ftp://example.com/", "foo:bar", "https://a.1/",
        "https://example.com/a|b", "https://example.com:443/", "https://" + "a" * 2070 + ".com/",
        "https://" + "a" * 2080 + ".com/",
    ],
}  # fmt: skip
