/* fuzz_imageform.c: libFuzzer target for an image route's request as
 * creditd reads it (docs/gateway.md, "Images"): any bytes as an
 * images/edits form (multipart/form-data with the seeds' boundary, read by
 * gwshape_read_form: gwmultipart, then the form's fields as the route's
 * JSON) and as an images/generations body (gwshape_read); the same bytes
 * as an audio/transcriptions form (gwkind_audio_read_form: the file's
 * format by its name and its first bytes) and as a transcription's
 * answer (gwkind_audio_whole: an srt or vtt's cues). What it reads
 * must hold together: n in 1..10, the files at most 17, the input bound
 * the prompt's bytes at most, the sizes and qualities it may be answered
 * at within their array. A crash, a leak or undefined behaviour is a bug at
 * the edge. */
#include "gwshape.h"
#include "gwkind.h"
#include "limits.h"
#include "limits_gateway.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void held_together(struct gw_ask *ask, int64_t bytes)
{
	const char *param = NULL;
	char err[256];
	if (ask->img.n < 1 || ask->img.n > LIMIT_GATEWAY_IMAGES_N || ask->img.input_images < 0 ||
	    ask->img.input_images > LIMIT_GATEWAY_IMAGE_EDIT_FILES || ask->input_bound < 0 || ask->input_bound > bytes)
		abort();
	if (gwkind_images_combos(&ask->img, &param, err, sizeof(err)) == 0) {
		if (ask->img.ncombos < 1 || ask->img.ncombos > GW_IMAGE_COMBOS)
			abort();
	} else if (param == NULL || err[0] == '\0') {
		abort();	/* a refusal names its member and says why */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct gwkind_route *edits = gwkind_route("/openai/v1/images/edits");
	const struct gwkind_route *gen = gwkind_route("/openai/v1/images/generations");
	struct gw_ask ask;
	char err[256];
	const char *param = NULL;
	if (size > LIMIT_BODY_DEFAULT_BYTES || edits == NULL || gen == NULL)
		abort();
	if (gwshape_read_form(edits, "multipart/form-data; boundary=fuzz", data, size, &ask, err, sizeof(err), &param) == 0)
		held_together(&ask, (int64_t)size);
	else if (err[0] == '\0')
		abort();
	if (gwshape_read(gen, (const char *)data, size, &ask, err, sizeof(err), &param) == 0)
		held_together(&ask, (int64_t)size);
	else if (err[0] == '\0')
		abort();
	const struct gwkind_route *tr = gwkind_route("/openai/v1/audio/transcriptions");
	if (tr == NULL)
		abort();
	int rc = gwkind_audio_read_form(tr, "multipart/form-data; boundary=fuzz", (const char *)data, size, &ask, err,
					sizeof(err), &param);
	if (rc == 0 && (ask.audio_file_bytes < 0 || ask.audio_file_bytes > (int64_t)size))
		abort();
	if (rc != 0 && err[0] == '\0')
		abort();
	struct gw_usage u;
	int estimated;
	memset(&ask, 0, sizeof(ask));
	ask.media_priced = GW_AUDIO_BY_SECONDS;
	ask.media_bound = 1000;
	if (gwkind_audio_whole(tr, &ask, (const char *)data, size, &u, &estimated) == 0 &&
	    (u.audio_ms < 0 || (estimated && u.audio_ms < ask.media_bound)))
		abort();	/* a length it did not read is never below the bound held */
	return 0;
}
