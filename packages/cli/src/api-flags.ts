/*
 * The options every command that talks to the bundlefarm API takes (--api, --token), declared once so
 * their help reads the same everywhere.
 */
import type { Command } from 'commander';
import { API_TOKEN_ENV, API_URL_ENV } from './api-client.js';

export interface ApiFlags {
  api?: string;
  token?: string;
}

export function withApiOptions(command: Command): Command {
  return command
    .option('--api <url>', `bundlefarm API URL (default $${API_URL_ENV})`)
    .option('--token <token>', `API token (default $${API_TOKEN_ENV}; prefer the variable: arguments show in ps)`);
}
