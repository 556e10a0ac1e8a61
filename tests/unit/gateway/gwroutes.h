/* gwroutes.h: the gateway's routes as the unit tests and fuzz targets
 * name them, found as the daemon finds them: by path, among the provider
 * kinds (gwkind.h). */
#ifndef CREDITD_TEST_GWROUTES_H
#define CREDITD_TEST_GWROUTES_H
#include "gwkind.h"

#define R_CHAT gwkind_route("/openai/v1/chat/completions")
#define R_RESPONSES gwkind_route("/openai/v1/responses")
#define R_EMBEDDINGS gwkind_route("/openai/v1/embeddings")
#define R_MESSAGES gwkind_route("/anthropic/v1/messages")

#endif
