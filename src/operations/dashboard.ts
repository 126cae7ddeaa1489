import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import express, { type Request, type Response } from 'express';
import { errorBody } from '../http/http-exception.filter';

/** The repository root, from src/operations (ts-node) as from dist/operations (built). */
const ROOT = resolve(__dirname, '..', '..');
export const DASHBOARD_PAGE = join(ROOT, 'web', 'index.html');
/** What `npm run build` compiles web/ and client/ into (tsc -p web/tsconfig.json). */
export const DASHBOARD_ASSETS = join(ROOT, 'dist', 'web');

/**
 * The live dashboard at `/`: one static page and its compiled scripts, which talk to the REST
 * API and Socket.IO with the token the user signs in with (kept in sessionStorage, never in a URL).
 */
export function mountDashboard(app: INestApplication): void {
  app.use('/assets', express.static(DASHBOARD_ASSETS, { index: false, maxAge: 0 }));
  app.use('/assets', (req: Request, res: Response) => {
    res.status(404).json(errorBody(404, `no dashboard asset ${req.path}`));
  });
  app.use((req: Request, res: Response, next: () => void) => {
    if (req.method !== 'GET' || (req.path !== '/' && req.path !== '/index.html')) return next();
    if (!existsSync(join(DASHBOARD_ASSETS, 'web', 'src', 'main.js'))) {
      res
        .status(503)
        .json(
          errorBody(
            503,
            'the dashboard is not built: run `npm run build` (tsc -p web/tsconfig.json)',
          ),
        );
      return;
    }
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(DASHBOARD_PAGE);
  });
}
