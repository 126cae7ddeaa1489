export const PRISMA = Symbol('PRISMA');
