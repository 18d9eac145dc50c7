/*
 * What the example game's client and server share: the tick rate, the two messages, and small
 * helpers. Messages are encoded little-endian byte by byte, so any two machines agree.
 *
 *   input  (client -> server, 12 bytes): type 1, dx (int8), dy (int8), 0,
 *                                        seq (u32), client time in ms (u32)
 *   state  (server -> client, 20 + 12 n): type 2, n players, 0, 0, server tick (u32),
 *                                        last input seq seen from you (u32),
 *                                        its client time, echoed (u32), your player id (u32),
 *                                        then n x (player id u32, x i32, y i32)
 */
#ifndef GAME_COMMON_H
#define GAME_COMMON_H

#define _POSIX_C_SOURCE 200809L

#include <kcp.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TICK_HZ 30
#define TICK_MS (1000 / TICK_HZ)
#define MAX_PLAYERS 32
#define MSG_INPUT 1
#define MSG_STATE 2
#define INPUT_LEN 12
#define STATE_LEN(n) (20 + 12 * (n))
#define DEFAULT_PASSPHRASE "kcp example game: change me"

static inline uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline void sleep_ms(uint64_t ms) {
    struct timespec ts;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

static inline void put_u32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static inline uint32_t get_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Prints a failed call and exits. */
static inline void die(const char *what, int rc) {
    fprintf(stderr, "%s failed: %s (%s)\n", what, kcp_strerror(rc), kcp_last_error());
    exit(1);
}

/* The configuration both ends use: sealed mode with a passphrase (the default), or kcptun's
 * legacy protocol (aes, FEC 10/3) with `legacy`. */
static inline void game_config(kcp_config *cfg, int legacy, const char *passphrase) {
    int rc = kcp_config_init(cfg, sizeof *cfg);
    if (rc != KCP_OK) die("kcp_config_init", rc);
    cfg->passphrase = passphrase;
    cfg->profile = KCP_PROFILE_FAST3;
    /* Game traffic is small: no FEC groups to wait for. */
    cfg->fec_data_shards = 0;
    cfg->fec_parity_shards = 0;
    /* Notice a vanished player within 3 s (legacy mode has no close message at all). */
    cfg->idle_timeout_ms = 3000;
    cfg->keepalive_ms = 1000;
    if (legacy) {
        cfg->mode = KCP_MODE_LEGACY;
        cfg->crypt = KCP_CRYPT_AES;
    }
}

#endif
