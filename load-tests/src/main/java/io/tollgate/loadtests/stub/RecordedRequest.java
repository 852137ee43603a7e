package io.tollgate.loadtests.stub;

import java.util.List;
import java.util.Map;

/** A request the stub saw: method, URI, headers (lower-cased names) and body size. */
public record RecordedRequest(String method, String uri, Map<String, List<String>> headers, long bodyBytes) {
}
